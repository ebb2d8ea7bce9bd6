//! Tests of the safe wrapper against the built library, on the model DIFFLM_TEST_MODEL
//! names (meson sets a tiny one) or, when it is unset, on the repository's
//! models/difflm-default.gguf.
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

use difflm::{Context, ContextParams, ErrorKind, GenParams, Step};

mod common;

fn model() -> PathBuf {
    common::test_model()
}

fn small() -> GenParams {
    GenParams { gen_length: 16, steps: 8, block_length: 8, ..Default::default() }
}

fn open() -> Context {
    Context::with_params(model(), ContextParams { n_threads: 1, ..Default::default() }).unwrap()
}

#[test]
fn abi_and_version() {
    difflm::check_abi().unwrap();
    assert_eq!(difflm::abi_version(), 0);
    assert!(difflm::version().split('.').count() == 3);
}

#[test]
fn missing_model_is_io_error_with_message() {
    let mut logged = Vec::new();
    let (tx, rx) = mpsc::channel();
    let params = ContextParams {
        log: Some(Box::new(move |_lvl, msg: &str| tx.send(msg.to_string()).unwrap())),
        ..Default::default()
    };
    let err = Context::with_params("/nonexistent/model.gguf", params).err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(err.code(), -3);
    assert!(err.message().contains("/nonexistent/model.gguf"), "{}", err.message());
    assert!(err.to_string().contains("cannot read or write a file"), "{err}");
    logged.extend(rx.try_iter());
    assert!(logged.iter().any(|m| m.contains("/nonexistent/model.gguf")));
}

#[test]
fn malformed_model_is_format_error() {
    let path = std::env::temp_dir().join(format!("difflm-rs-bad-{}.gguf", std::process::id()));
    std::fs::write(&path, b"GGUF\xff\xff\xff\xff garbage that is not a model").unwrap();
    let err = Context::new(&path).err().expect("must fail");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(err.kind(), ErrorKind::Format);
    assert!(!err.message().is_empty());
}

#[test]
fn bad_arguments() {
    let err = Context::with_params(model(), ContextParams { n_threads: -1, ..Default::default() })
        .err()
        .expect("must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    assert!(err.message().contains("n_threads"), "{}", err.message());
    let mut ctx = open();
    let err = ctx.generate("x", &GenParams { gen_length: -3, ..small() }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    assert!(!err.message().is_empty());
    let too_long =
        GenParams { gen_length: ctx.info().max_canvas + 1, steps: 1, block_length: 0, ..small() };
    assert_eq!(ctx.generate("x", &too_long).unwrap_err().kind(), ErrorKind::TooLong);
    assert_eq!(ctx.generate("a\0b", &small()).unwrap_err().kind(), ErrorKind::InvalidArg);
    let n_vocab = ctx.info().n_vocab;
    let err = ctx.detokenize(&[1, n_vocab + 5], 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    assert!(!err.message().is_empty());
    assert_eq!(ctx.canvas().unwrap_err().kind(), ErrorKind::State);
}

#[test]
fn tokenize_round_trip() {
    let mut ctx = open();
    for text in ["Hello world", "héllo wörld ✓", "  spaces\n\ttabs", ""] {
        let ids = ctx.tokenize(text, 0).unwrap();
        assert_eq!(ctx.detokenize(&ids, 0).unwrap(), text.as_bytes());
    }
    let bytes: Vec<u8> = (1..=255).collect();
    let ids = ctx.tokenize(&bytes, 0).unwrap();
    assert_eq!(ctx.detokenize(&ids, 0).unwrap(), bytes);
    let with_bos = ctx.tokenize("hi", difflm::TOKENIZE_ADD_BOS).unwrap();
    assert_eq!(with_bos[0], ctx.info().bos_id);
    assert_eq!(ctx.detokenize_lossy(&with_bos, 0).unwrap(), "hi");
    let chat = ctx.chat_format(&[("user", "What is 2+2?")], true).unwrap();
    assert!(chat.contains("What is 2+2?"));
}

#[test]
fn generate_is_deterministic_and_matches_steps() {
    let mut ctx = open();
    let a = ctx.generate("Once upon", &small()).unwrap();
    let b = ctx.generate("Once upon", &small()).unwrap();
    assert_eq!(a, b);
    let prompt = ctx.prompt_ids("Once upon").unwrap();
    let steps: Vec<Step> = ctx.steps(&prompt, &small()).unwrap().map(|s| s.unwrap()).collect();
    assert_eq!(steps.len(), 8);
    let info = ctx.info().clone();
    let mut masked = i32::MAX;
    for (k, s) in steps.iter().enumerate() {
        assert_eq!(s.index as usize, k + 1);
        assert_eq!(s.total_steps, 8);
        assert_eq!(s.prompt_length, prompt.len());
        assert_eq!(&s.canvas[..prompt.len()], &prompt[..]);
        assert_eq!(s.generated().len(), 16);
        assert_eq!(
            s.n_masked as usize,
            s.generated().iter().filter(|&&t| t == info.mask_id).count()
        );
        assert!(s.n_masked <= masked);
        masked = s.n_masked;
    }
    assert!(steps[0].n_masked > 0);
    assert!(steps.last().unwrap().is_done());
    assert_eq!(ctx.canvas().unwrap(), steps.last().unwrap().canvas);
    let gen = steps.last().unwrap().generated();
    let end = gen.iter().position(|&t| t == info.eos_id || t == info.eot_id).unwrap_or(gen.len());
    assert_eq!(ctx.detokenize_lossy(&gen[..end], 0).unwrap(), a);
}

#[test]
fn generate_with_sees_every_step_and_can_stop() {
    let mut ctx = open();
    let mut seen = Vec::new();
    ctx.generate_with("x", &small(), |s| {
        seen.push(s.index);
        false
    })
    .unwrap();
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());
    let err = ctx.generate_with("x", &small(), |s| s.index == 2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
}

#[test]
fn panic_in_step_hook_resumes_in_caller() {
    let mut ctx = open();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = ctx.generate_with("x", &small(), |_| panic!("from the hook"));
    }));
    assert!(r.is_err());
    assert_eq!(ctx.generate("x", &small()).unwrap(), ctx.generate("x", &small()).unwrap());
}

#[test]
fn cancel_from_the_iterating_thread() {
    let mut ctx = open();
    let prompt = ctx.prompt_ids("Hello").unwrap();
    let mut it = ctx.steps(&prompt, &small()).unwrap();
    assert_eq!(it.next().unwrap().unwrap().index, 1);
    it.cancel();
    assert_eq!(it.next().unwrap().unwrap_err().kind(), ErrorKind::Cancelled);
    assert!(it.next().is_none());
    assert_eq!(ctx.steps(&prompt, &small()).unwrap().count(), 8);
}

#[test]
fn cancel_handle_from_another_thread() {
    let mut ctx = open();
    let handle = ctx.cancel_handle();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<bool>();
    let canceller = thread::spawn(move || {
        go_rx.recv().unwrap();
        done_tx.send(handle.cancel()).unwrap();
        handle
    });
    let prompt = ctx.prompt_ids("Hello").unwrap();
    let mut results = Vec::new();
    for step in ctx.steps(&prompt, &small()).unwrap() {
        let failed = step.is_err();
        results.push(step);
        if failed {
            break;
        }
        go_tx.send(()).unwrap();
        assert!(done_rx.recv().unwrap(), "the context was alive");
    }
    assert_eq!(results.len(), 2);
    assert_eq!(results[1].as_ref().unwrap_err().kind(), ErrorKind::Cancelled);
    let handle = canceller.join().unwrap();
    drop(ctx);
    assert!(!handle.cancel(), "a dropped context cannot be cancelled");
}

#[test]
fn context_moves_between_threads() {
    fn is_send<T: Send>() {}
    fn is_send_sync<T: Send + Sync>() {}
    is_send::<Context>();
    is_send_sync::<difflm::CancelHandle>();
    let ctx = open();
    let text = thread::spawn(move || {
        let mut ctx = ctx;
        ctx.generate("moved", &small()).unwrap()
    })
    .join()
    .unwrap();
    let mut here = open();
    assert_eq!(text, here.generate("moved", &small()).unwrap());
}

#[test]
fn logits_rows_errors_and_generation() {
    let mut ctx = open();
    let info = ctx.info().clone();
    let v = info.n_vocab as usize;
    let mut ids = ctx.tokenize("Hello there", 0).unwrap();
    ids.push(info.mask_id);
    let full = ctx.logits(&ids, None).unwrap();
    assert_eq!(full.len(), ids.len() * v);
    let rows = [ids.len() as i32 - 1, 0, 0];
    let some = ctx.logits(&ids, Some(&rows)).unwrap();
    for (i, &r) in rows.iter().enumerate() {
        assert_eq!(some[i * v..(i + 1) * v], full[r as usize * v..(r as usize + 1) * v]);
    }
    assert!(ctx.logits(&ids, Some(&[])).unwrap().is_empty());
    let bad_row = [ids.len() as i32];
    assert_eq!(ctx.logits(&ids, Some(&bad_row)).unwrap_err().kind(), ErrorKind::InvalidArg);
    assert_eq!(ctx.logits(&[info.n_vocab], None).unwrap_err().kind(), ErrorKind::InvalidArg);
    let too_long = vec![0; info.max_canvas as usize + 1];
    assert_eq!(ctx.logits(&too_long, None).unwrap_err().kind(), ErrorKind::TooLong);
    ctx.cancel();
    assert_eq!(ctx.logits(&ids, None).unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(ctx.logits(&ids, None).unwrap(), full); // the request was spent
}

#[test]
fn score_is_deterministic_and_checked() {
    let mut ctx = open();
    let prompt = ctx.tokenize("The Lord said", 0).unwrap();
    let ids = ctx.tokenize(" unto Moses", 0).unwrap();
    let a = ctx.score(&ids, &prompt, 8, 4, 3).unwrap();
    let b = ctx.score(&ids, &prompt, 8, 4, 3).unwrap();
    assert!(a.nll > 0.0);
    assert_eq!(a.nll.to_bits(), b.nll.to_bits());
    assert_eq!((a.n_tokens as usize, a.n_iter), (ids.len(), 2));
    assert!((a.se * a.se - a.var).abs() < 1e-9 * a.var.max(1.0));
    assert_eq!(ctx.score(&[], &prompt, 8, 4, 3).unwrap().nll, 0.0);
    assert_eq!(ctx.score(&ids, &prompt, 6, 4, 3).unwrap_err().kind(), ErrorKind::InvalidArg);
    ctx.cancel();
    assert_eq!(ctx.score(&ids, &prompt, 8, 4, 3).unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(ctx.score(&ids, &prompt, 8, 4, 3).unwrap().nll.to_bits(), a.nll.to_bits());
}

#[test]
fn batch_canvases_equal_their_solo_runs() {
    let mut ctx = Context::with_params(
        model(),
        ContextParams { n_threads: 2, max_batch: 3, ..Default::default() },
    )
    .unwrap();
    let params = GenParams { temperature: 0.7, ..small() };
    let p0 = ctx.prompt_ids("Once upon").unwrap();
    let p1 = ctx.prompt_ids("The Lord said unto").unwrap();
    let p2: Vec<i32> = vec![1, 300, 42];
    let prompts: Vec<&[i32]> = vec![&p0, &p1, &p2];
    let seeds = [5u64, 6, 7];
    let got = ctx.generate_batch(&prompts, &params, Some(&seeds)).unwrap();
    assert_eq!(got.len(), 3);
    for (i, p) in prompts.iter().enumerate() {
        let g = GenParams { seed: seeds[i], ..params };
        let last = ctx.steps(p, &g).unwrap().map(|s| s.unwrap()).last().unwrap();
        assert_eq!(got[i], last.canvas);
    }
    let four: Vec<&[i32]> = vec![&p0, &p1, &p2, &p2];
    let e = ctx.generate_batch(&four, &params, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message().contains("max_batch 3"), "{}", e.message());
    let cfg = GenParams { cfg_scale: 1.0, ..params };
    assert_eq!(
        ctx.generate_batch(&prompts, &cfg, None).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        ctx.generate_batch(&prompts, &params, Some(&seeds[..1])).unwrap_err().kind(),
        ErrorKind::InvalidArg
    );
}

#[test]
fn infill_and_confidences() {
    let mut ctx = open();
    let m = ctx.info().mask_id;
    let canvas = ctx.infill_canvas("In the<mask:4> was the<mask:2>.", 0).unwrap();
    let mut want = ctx.tokenize("In the", 0).unwrap();
    want.extend([m; 4]);
    want.extend(ctx.tokenize(" was the", 0).unwrap());
    want.extend([m; 2]);
    want.extend(ctx.tokenize(".", 0).unwrap());
    assert_eq!(canvas, want);
    let g = GenParams { steps: 6, block_length: 3, ..Default::default() };
    let mut steps = ctx.infill_steps(&canvas, &g).unwrap();
    let mut n = 0;
    while let Some(step) = steps.next() {
        step.unwrap();
        n += 1;
        let conf = steps.confidences().unwrap();
        assert_eq!(conf.len(), canvas.len());
        assert!(conf.iter().any(|c| c.step == n));
    }
    assert_eq!(n, 6);
    let out = ctx.canvas().unwrap();
    let conf = ctx.confidences().unwrap();
    for i in 0..canvas.len() {
        assert_eq!(conf[i].token, out[i]);
        if canvas[i] == m {
            assert!(conf[i].step >= 1 && conf[i].step <= 6);
            assert!(conf[i].prob >= 0.0 && conf[i].prob <= 1.0);
        } else {
            assert_eq!(out[i], canvas[i]);
            assert_eq!(conf[i].step, difflm::CONF_FIXED);
            assert!(conf[i].prob.is_nan());
        }
    }
    let e = ctx.infill_canvas("x<mask:0>", 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
}
