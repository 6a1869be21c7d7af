//! Progress bars on standard error (drawn only when it is a terminal, so
//! scripts and pipes see nothing of them).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a bad one would only lose
    // the bar's layout, never the command.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A bar of `len` steps counting `unit`s, e.g. cases.
pub fn bar(len: u64, unit: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    pb.set_style(
        style(&format!(
            "{{spinner}} {{msg}} [{{bar:40}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, {{eta}} left)"
        ))
        .progress_chars("=> "),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A bar over the bytes of an input, with a count of `unit`s in its message.
pub fn bytes_bar(len: u64) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    pb.set_style(
        style("{spinner} {msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta} left)")
            .progress_chars("=> "),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A spinner for work of unknown length, with a count in its message.
pub fn spinner() -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    pb.set_style(style("{spinner} {msg} ({elapsed})"));
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}
