//! Generates text, then watches a second generation fill in step by step, with a
//! watchdog thread that cancels it if it takes too long.
//! usage: cargo run --example generate -- MODEL.gguf ["prompt"]
use std::time::Duration;
use std::{env, process, thread};

use difflm::{Context, ErrorKind, GenParams};

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: {} MODEL.gguf [PROMPT]", args[0]);
        process::exit(2);
    }
    let prompt = args.get(2).map(String::as_str).unwrap_or("The Lord said");
    if let Err(e) = run(&args[1], prompt) {
        eprintln!("error: {e}");
        process::exit(1);
    }
}

fn run(model: &str, prompt: &str) -> difflm::Result<()> {
    let mut ctx = Context::new(model)?;
    let g = GenParams { gen_length: 32, steps: 16, block_length: 16, ..Default::default() };
    println!("generate: {:?}", ctx.generate(prompt, &g)?);

    let watchdog = ctx.cancel_handle();
    thread::spawn(move || {
        thread::sleep(Duration::from_secs(30));
        watchdog.cancel();
    });
    let ids = ctx.prompt_ids(prompt)?;
    let mask = ctx.info().mask_id;
    let mut canvases = Vec::new();
    for step in ctx.steps(&ids, &g)? {
        match step {
            Ok(s) => canvases.push(s),
            Err(e) if e.kind() == ErrorKind::Cancelled => {
                println!("cancelled by the watchdog");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    for s in &canvases {
        let shown: String =
            s.generated().iter().map(|&t| if t == mask { '_' } else { '#' }).collect();
        println!("step {:2}/{}: {} ({} masked)", s.index, s.total_steps, shown, s.n_masked);
    }
    if let Some(last) = canvases.last() {
        println!("final: {:?}", ctx.detokenize_lossy(last.generated(), 0)?);
    }
    Ok(())
}
