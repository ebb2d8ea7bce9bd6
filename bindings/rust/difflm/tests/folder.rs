//! A Hugging Face model folder opens wherever a model file does: DIFFLM_TEST_FOLDER (meson
//! writes a LLaDA-like one with BF16 shards, tests/hf/hf_mkfolder) is the same model as
//! DIFFLM_TEST_FOLDER_GGUF, the GGUF of its weights. The test needs both variables, so it
//! is ignored by a plain `cargo test`; meson's `rust` tests run it (`--include-ignored`).
use std::path::PathBuf;

use difflm::{Context, ContextParams, GenParams, TOKENIZE_ADD_BOS, TOKENIZE_PARSE_SPECIAL};

fn var(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var_os(name)
            .unwrap_or_else(|| panic!("{name} is not set (meson test rust sets it)")),
    )
}

fn open(path: &PathBuf) -> Context {
    Context::with_params(path, ContextParams { n_threads: 1, ..Default::default() }).unwrap()
}

#[test]
#[ignore = "needs DIFFLM_TEST_FOLDER and DIFFLM_TEST_FOLDER_GGUF (meson test rust sets them)"]
fn folder_is_its_gguf() {
    let folder = var("DIFFLM_TEST_FOLDER");
    let mut f = open(&folder);
    let mut c = open(&folder.join("config.json"));
    let mut g = open(&var("DIFFLM_TEST_FOLDER_GGUF"));
    assert_eq!(f.info().n_vocab, g.info().n_vocab);
    assert_eq!(f.info().mask_id, g.info().mask_id);
    assert_eq!(f.info().n_params, g.info().n_params);
    assert!(!f.info().add_bos, "tokenizer_config.json says add_bos_token false");
    let text = "Hello <|eot_id|> world, 123 and\n\n  more";
    for flags in [0, TOKENIZE_PARSE_SPECIAL, TOKENIZE_ADD_BOS | TOKENIZE_PARSE_SPECIAL] {
        assert_eq!(
            f.tokenize(text, flags).unwrap(),
            g.tokenize(text, flags).unwrap(),
            "flags {flags}"
        );
    }
    let ids = f.tokenize(text, TOKENIZE_ADD_BOS | TOKENIZE_PARSE_SPECIAL).unwrap();
    assert_eq!(ids, c.tokenize(text, TOKENIZE_ADD_BOS | TOKENIZE_PARSE_SPECIAL).unwrap());
    assert_eq!(f.logits(&ids, None).unwrap(), g.logits(&ids, None).unwrap());
    let p = GenParams { gen_length: 16, steps: 8, block_length: 8, ..Default::default() };
    let last =
        |ctx: &mut Context| ctx.steps(&ids, &p).unwrap().map(|s| s.unwrap()).last().unwrap().canvas;
    let (a, b) = (last(&mut f), last(&mut g));
    assert_eq!(a, b);
    assert_eq!(a.len(), ids.len() + 16);
}
