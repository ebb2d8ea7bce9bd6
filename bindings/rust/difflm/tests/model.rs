//! Tests of `Model`: contexts sharing one model, loading from memory and from readers,
//! the library's errors for bad images, and the types' thread-safety.
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::thread;

use difflm::{Context, ContextParams, ErrorKind, GenParams, Model, ModelParams, Token};

mod common;

fn params() -> GenParams {
    GenParams {
        gen_length: 16,
        steps: 8,
        block_length: 8,
        temperature: 0.8,
        seed: 5,
        ..Default::default()
    }
}

fn one_thread() -> ContextParams {
    ContextParams { n_threads: 1, ..Default::default() }
}

/// The final canvas of one generation on ctx.
fn canvas(ctx: &mut Context) -> Vec<Token> {
    let prompt = ctx.prompt_ids("Once upon").unwrap();
    let mut last = None;
    for step in ctx.steps(&prompt, &params()).unwrap() {
        last = Some(step.unwrap());
    }
    last.unwrap().canvas
}

/// What a context created from the path gives.
fn want() -> Vec<Token> {
    canvas(&mut Context::with_params(common::test_model(), one_thread()).unwrap())
}

fn image() -> Vec<u8> {
    std::fs::read(common::test_model()).unwrap()
}

fn canvas_of(model: &Model) -> Vec<Token> {
    canvas(&mut Context::from_model(model, one_thread()).unwrap())
}

#[test]
fn thread_safety_is_in_the_types() {
    fn is_send_sync<T: Send + Sync>() {}
    fn is_send<T: Send>() {}
    is_send_sync::<Model>();
    is_send_sync::<Arc<Model>>();
    is_send::<Context>(); // and not Sync: the doc test on Context fails to compile
}

#[test]
fn contexts_on_one_model_give_the_path_contexts_tokens() {
    let want = want();
    let model = Arc::new(Model::new(common::test_model()).unwrap());
    let info = model.info().clone();
    assert_eq!(info.max_canvas, 0);
    let path_ctx = Context::new(common::test_model()).unwrap();
    assert_eq!(difflm::ModelInfo { max_canvas: 0, ..path_ctx.info().clone() }, info);
    // two contexts on the model, generating at once on two threads
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let model = Arc::clone(&model);
            thread::spawn(move || canvas_of(&model))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
    // a context outlives the model handle it came from
    let mut ctx =
        Context::from_model(&model, ContextParams { max_canvas: 64, ..one_thread() }).unwrap();
    assert_eq!(ctx.info().max_canvas, 64);
    drop(model);
    assert_eq!(canvas(&mut ctx), want);
    // the mask token is the model's
    let m = Model::new(common::test_model()).unwrap();
    let err = Context::from_model(&m, ContextParams { mask_token_id: 3, ..one_thread() })
        .err()
        .expect("must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    let err = Context::from_model(&m, ContextParams { n_threads: -1, ..Default::default() })
        .err()
        .expect("must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    assert!(err.message().contains("n_threads"), "{}", err.message());
}

#[test]
fn memory_required_grows_with_the_context() {
    let model = Model::new(common::test_model()).unwrap();
    let at = |max_canvas, max_batch| {
        model
            .memory_required(&ContextParams { max_canvas, max_batch, ..Default::default() })
            .unwrap()
    };
    assert!(at(32, 1) > 0);
    assert!(at(32, 1) < at(128, 1));
    assert!(at(128, 1) < at(128, 4));
    let err =
        model.memory_required(&ContextParams { n_threads: -1, ..Default::default() }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
}

/// 32-byte aligned storage for a `'static` image.
#[repr(C, align(32))]
struct Aligned([u8; 32]);

fn leak_aligned(bytes: &[u8], misalign: usize) -> &'static [u8] {
    let chunks: Vec<Aligned> = (0..bytes.len() / 32 + 2).map(|_| Aligned([0; 32])).collect();
    let all: &'static mut [Aligned] = Box::leak(chunks.into_boxed_slice());
    // SAFETY: the chunks are plain bytes, contiguous, (len / 32 + 2) * 32 long.
    let raw: &'static mut [u8] =
        unsafe { std::slice::from_raw_parts_mut(all.as_mut_ptr() as *mut u8, all.len() * 32) };
    raw[misalign..misalign + bytes.len()].copy_from_slice(bytes);
    &raw[misalign..misalign + bytes.len()]
}

#[test]
fn memory_loading_gives_the_files_tokens() {
    let want = want();
    let bytes = image();
    // 'static, in place
    let stat = leak_aligned(&bytes, 0);
    assert_eq!(canvas_of(&Model::from_static(stat, ModelParams::default()).unwrap()), want);
    // owned, in whatever alignment the allocator gives (copied when misaligned)
    let owned = Model::from_owned(bytes.clone(), ModelParams::default()).unwrap();
    let boxed = Model::from_owned(bytes.clone().into_boxed_slice(), ModelParams::default());
    let shared: Arc<[u8]> = bytes.clone().into();
    let arc = Model::from_owned(Arc::clone(&shared), ModelParams::default()).unwrap();
    assert_eq!(canvas_of(&owned), want);
    assert_eq!(canvas_of(&boxed.unwrap()), want);
    // the model owns its bytes: a context outlives the model and every other handle
    let mut ctx = Context::from_model(&arc, one_thread()).unwrap();
    drop(arc);
    drop(shared);
    assert_eq!(canvas(&mut ctx), want);
    // a misaligned owned buffer is copied; a misaligned 'static one is the library's error
    let off = leak_aligned(&bytes, 1);
    assert_eq!(canvas_of(&Model::from_owned(off, ModelParams::default()).unwrap()), want);
    let err = Model::from_static(off, ModelParams::default()).err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    assert!(err.message().contains("aligned"), "{}", err.message());
}

#[test]
fn reader_loading_gives_the_files_tokens() {
    let want = want();
    let file = std::fs::File::open(common::test_model()).unwrap();
    assert_eq!(canvas_of(&Model::from_reader(file, None, ModelParams::default()).unwrap()), want);
    // an asset inside a pack: the image starts at the reader's position
    let bytes = image();
    let mut pack = b"junk".repeat(1000);
    pack.extend_from_slice(&bytes);
    pack.extend_from_slice(b"trailer");
    let mut cur = Cursor::new(pack);
    cur.seek(SeekFrom::Start(4000)).unwrap();
    let model = Model::from_reader(cur, Some(bytes.len() as u64), ModelParams::default()).unwrap();
    assert_eq!(canvas_of(&model), want);
}

/// A reader that fails after some bytes.
struct Failing(Cursor<Vec<u8>>);

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.position() > 1000 {
            return Err(std::io::Error::new(std::io::ErrorKind::Other, "the disk is on fire"));
        }
        let n = buf.len().min(100);
        self.0.read(&mut buf[..n])
    }
}

impl Seek for Failing {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

#[test]
fn bad_images_give_the_librarys_errors() {
    let bytes = image();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", [b"GGUF".to_vec(), vec![0xff; 60]].concat()),
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("not gguf", b"hello world".repeat(10)),
    ];
    for (name, data) in cases {
        let logged = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&logged);
        let p = ModelParams {
            log: Some(Box::new(move |_lvl, msg: &str| sink.lock().unwrap().push(msg.to_string()))),
            ..Default::default()
        };
        let err = Model::from_owned(data.clone(), p).err().expect(name);
        assert_eq!(err.kind(), ErrorKind::Format, "{name}: {err}");
        assert!(!err.message().is_empty(), "{name}");
        assert!(logged.lock().unwrap().iter().any(|m| m.contains(err.message())), "{name}");
        let err =
            Model::from_reader(Cursor::new(data), None, ModelParams::default()).err().expect(name);
        assert_eq!(err.kind(), ErrorKind::Format, "{name}: {err}");
    }
    let err = Model::from_reader(Failing(Cursor::new(bytes.clone())), None, ModelParams::default())
        .err()
        .expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("the disk is on fire"), "{}", err.message());
    // a reader shorter than the size it claims
    let short = Cursor::new(bytes[..100].to_vec());
    let err = Model::from_reader(short, Some(bytes.len() as u64), ModelParams::default())
        .err()
        .expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Io);
    let err = Model::new("/nonexistent/model.gguf").err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("/nonexistent/model.gguf"), "{}", err.message());
}

#[test]
fn pack_weights_changes_no_logit() {
    let packed = |pack| ContextParams { pack_weights: pack, ..one_thread() };
    let ids: Vec<Token> = (10..40).collect();
    let model = Model::new(common::test_model()).unwrap();
    let mut off = Context::from_model(&model, packed(difflm::PACK_OFF)).unwrap();
    let mut on = Context::with_params(common::test_model(), packed(difflm::PACK_ON)).unwrap();
    assert_eq!(off.logits(&ids, None).unwrap(), on.logits(&ids, None).unwrap());
    let err = Context::from_model(&model, packed(3)).err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
}

#[test]
fn precision_reaches_the_library() {
    let bf16 = || ContextParams { precision: difflm::PRECISION_BF16, ..one_thread() };
    let ids: Vec<Token> = (10..40).collect();
    let model = Model::new(common::test_model()).unwrap();
    let exact = Context::from_model(&model, one_thread()).unwrap().logits(&ids, None).unwrap();
    let on_model = Context::from_model(&model, bf16()).unwrap().logits(&ids, None).unwrap();
    let by_path =
        Context::with_params(common::test_model(), bf16()).unwrap().logits(&ids, None).unwrap();
    assert_ne!(exact, on_model); // bf16 products ran
    assert_eq!(on_model, by_path); // both creation paths pass the field
    assert!(exact.iter().zip(&on_model).all(|(a, b)| (a - b).abs() < 0.5));
    let bad = ContextParams { precision: 2, ..one_thread() };
    let err = Context::from_model(&model, bad).err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
}
