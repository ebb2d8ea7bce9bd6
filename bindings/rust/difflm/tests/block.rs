//! The block diffusion fields of GenParams and the SCHEDULE_BLOCK_DIFFUSION constant, on
//! the block-causal model DIFFLM_TEST_BLOCK_MODEL names (meson writes one with
//! diffusion.block_length 8). The repository has no block-causal model, so a plain
//! `cargo test` without it says so and checks nothing here.
use difflm::{Context, ContextParams, ErrorKind, GenParams, Token};

mod common;

fn block_model() -> Option<String> {
    match std::env::var("DIFFLM_TEST_BLOCK_MODEL") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            eprintln!("DIFFLM_TEST_BLOCK_MODEL is unset: no block-causal model to test on");
            None
        }
    }
}

fn open(path: &str) -> Context {
    Context::with_params(path, ContextParams { n_threads: 1, ..Default::default() }).unwrap()
}

/// The finished canvas and the number of steps.
fn run(ctx: &mut Context, g: &GenParams) -> difflm::Result<(Vec<Token>, usize)> {
    let prompt: Vec<Token> = (300..307).collect();
    let mut last = None;
    let mut n = 0;
    for step in ctx.steps(&prompt, g)? {
        last = Some(step?);
        n += 1;
    }
    Ok((last.expect("at least one step").canvas, n))
}

fn base() -> GenParams {
    GenParams { gen_length: 20, steps: 16, ..Default::default() }
}

#[test]
fn info_schedule_and_fields() {
    // (no let-else: the crates build with rustc 1.63)
    let path = match block_model() {
        Some(p) => p,
        None => return,
    };
    let mut ctx = open(&path);
    assert_eq!(ctx.info().block_length, 8);
    let (auto, n_auto) = run(&mut ctx, &base()).unwrap();
    assert_eq!(auto.len(), 32); // 7 + 20 padded to whole blocks of 8
    assert!(!auto.contains(&ctx.info().mask_id));
    let explicit = GenParams { schedule: difflm::SCHEDULE_BLOCK_DIFFUSION, ..base() };
    assert_eq!(run(&mut ctx, &explicit).unwrap(), (auto, n_auto));

    let edit =
        GenParams { block_threshold: 0.5, editing_threshold: 0.2, max_post_steps: 3, ..base() };
    let recompute = GenParams { flags: difflm::GEN_BLOCK_RECOMPUTE, ..edit };
    assert_eq!(run(&mut ctx, &edit).unwrap(), run(&mut ctx, &recompute).unwrap());
    // the scheduled counts only: 4 steps for each of the 4 blocks, but the first holds a
    // single MASK after the prompt's 7 tokens
    let counts = GenParams { block_threshold: 1.0, ..base() };
    assert_eq!(run(&mut ctx, &counts).unwrap().1, 13);
    let all = GenParams { block_threshold: 0.0, ..base() };
    assert!(run(&mut ctx, &all).unwrap().1 < 13);

    for (bad, name) in [
        (GenParams { block_threshold: 1.5, ..base() }, "block_threshold"),
        (GenParams { editing_threshold: 1.0, ..base() }, "editing_threshold"),
        (GenParams { max_post_steps: -1, ..base() }, "max_post_steps"),
    ] {
        let err = run(&mut ctx, &bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArg);
        assert!(err.message().contains(name), "{}", err.message());
    }
}

#[test]
fn bidirectional_model_has_no_block_length() {
    let ctx = open(common::test_model().to_str().unwrap());
    assert_eq!(ctx.info().block_length, 0);
}
