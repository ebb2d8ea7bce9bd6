//! The C callbacks: log lines, step records for `Steps`, and the caller's step hook.
//! None of them lets a panic cross the C frames (that would abort the process).
use std::any::Any;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::slice;

use difflm_sys as sys;

use crate::context::Step;
use crate::params::LogFn;

/// Where the log callback writes: the last error (difflm_create has no context to hold
/// it) and the caller's function.
pub(crate) struct LogSink {
    pub user: Option<LogFn>,
    pub last_error: String,
}

pub(crate) unsafe extern "C" fn log_trampoline(level: i32, msg: *const c_char, user: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: user is the LogSink the Context owns for as long as the library may log,
        // and the library logs only on the thread making a call on that context.
        let sink = &mut *(user as *mut LogSink);
        let text = if msg.is_null() {
            String::new()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        if let Some(f) = sink.user.as_mut() {
            f(level, &text);
        }
        if level == sys::DIFFLM_LOG_ERROR {
            sink.last_error = text;
        }
    }));
}

/// A copy of what the library reports after a step.
pub(crate) unsafe fn step_from_info(info: &sys::difflm_step_info) -> Step {
    let canvas = if info.canvas.is_null() || info.canvas_length == 0 {
        Vec::new()
    } else {
        slice::from_raw_parts(info.canvas, info.canvas_length).to_vec()
    };
    Step {
        index: info.step,
        total_steps: info.total_steps,
        n_committed: info.n_committed,
        n_masked: info.n_masked,
        prompt_length: info.prompt_length.max(0) as usize,
        canvas,
    }
}

/// The last step the library reported, for `Steps`.
#[derive(Default)]
pub(crate) struct StepRecord {
    pub last: Option<Step>,
}

pub(crate) unsafe extern "C" fn record_trampoline(
    info: *const sys::difflm_step_info,
    user: *mut c_void,
) -> c_int {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: user is the StepRecord the Context owns; info is valid during the call.
        let rec = &mut *(user as *mut StepRecord);
        rec.last = Some(step_from_info(&*info));
    }));
    if r.is_ok() {
        0
    } else {
        1
    }
}

/// The caller's step hook for `generate_with`, and a panic it raised (re-raised once the
/// library has returned).
pub(crate) struct Hook<F> {
    pub f: F,
    pub panic: Option<Box<dyn Any + Send>>,
}

pub(crate) unsafe extern "C" fn hook_trampoline<F: FnMut(&Step) -> bool>(
    info: *const sys::difflm_step_info,
    user: *mut c_void,
) -> c_int {
    // SAFETY: user is the Hook on generate_with's stack, alive for the whole call.
    let hook = &mut *(user as *mut Hook<F>);
    let step = step_from_info(&*info);
    match catch_unwind(AssertUnwindSafe(|| (hook.f)(&step))) {
        Ok(stop) => stop as c_int,
        Err(payload) => {
            hook.panic = Some(payload);
            1
        }
    }
}
