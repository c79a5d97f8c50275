//! The receiver's script: what to answer to each request, in order.
//!
//! A script is a comma-separated list of steps; a step is `ACTION[:OPTION]...[*COUNT]`:
//! - ACTION: an HTTP status (`204`, `429`, `503`, ...), or `reset` (close the connection without
//!   reading the body or answering, which makes the kernel send a TCP reset);
//! - `retry-after=N` sends `Retry-After: N`; `retry-after=date+N` sends an HTTP date N seconds
//!   ahead;
//! - `delay=MS` waits before answering (a slow server);
//! - `body=TEXT` sends TEXT as the response body;
//! - `for=MS` repeats the step for MS milliseconds from its first use (instead of `*COUNT`);
//! - `*COUNT` repeats the step COUNT times.
//!
//! After the script, every request gets the `--then` step.

use std::time::{Duration, Instant};

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub retry_after: Option<String>,
    pub delay: Duration,
    pub body: String,
    repeat: Repeat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Status(u16),
    Reset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Times(u64),
    For(Duration),
}

/// Parses one step.
pub fn parse_step(text: &str) -> Result<Step, String> {
    let (text, times) = match text.rsplit_once('*') {
        Some((t, n)) => (t, n.parse().map_err(|_| format!("bad count in {text:?}"))?),
        None => (text, 1),
    };
    let mut parts = text.split(':');
    let action = match parts.next().unwrap_or_default() {
        "reset" => Action::Reset,
        s => Action::Status(s.parse().map_err(|_| format!("bad action {s:?}"))?),
    };
    let mut step = Step {
        action,
        retry_after: None,
        delay: Duration::ZERO,
        body: String::new(),
        repeat: Repeat::Times(times),
    };
    for option in parts {
        let (k, v) = option
            .split_once('=')
            .ok_or(format!("bad option {option:?}"))?;
        match k {
            "retry-after" => step.retry_after = Some(v.to_string()),
            "delay" => step.delay = Duration::from_millis(ms(v)?),
            "body" => step.body = v.to_string(),
            "for" => step.repeat = Repeat::For(Duration::from_millis(ms(v)?)),
            _ => return Err(format!("unknown option {k:?}")),
        }
    }
    Ok(step)
}

fn ms(v: &str) -> Result<u64, String> {
    v.parse().map_err(|_| format!("bad milliseconds {v:?}"))
}

/// The steps still to serve and the step after them.
pub struct Script {
    steps: Vec<Step>,
    then: Step,
    position: usize,
    used: u64,
    started: Option<Instant>,
}

impl Script {
    /// Parses `script` (may be empty) and `then`.
    pub fn parse(script: &str, then: &str) -> Result<Script, String> {
        let steps = script
            .split(',')
            .filter(|s| !s.is_empty())
            .map(parse_step)
            .collect::<Result<_, _>>()?;
        Ok(Script {
            steps,
            then: parse_step(then)?,
            position: 0,
            used: 0,
            started: None,
        })
    }

    /// The answer to the next request.
    pub fn next(&mut self) -> Step {
        while let Some(step) = self.steps.get(self.position) {
            let started = *self.started.get_or_insert_with(Instant::now);
            let current = match step.repeat {
                Repeat::Times(n) => self.used < n,
                Repeat::For(d) => started.elapsed() < d,
            };
            if current {
                self.used += 1;
                return step.clone();
            }
            self.position += 1;
            self.used = 0;
            self.started = None;
        }
        self.then.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_repeat_then_fall_through() {
        let mut s = Script::parse("429*2,503:retry-after=1,reset", "204:delay=5").unwrap();
        let actions: Vec<Action> = (0..6).map(|_| s.next().action).collect();
        assert_eq!(
            actions,
            vec![
                Action::Status(429),
                Action::Status(429),
                Action::Status(503),
                Action::Reset,
                Action::Status(204),
                Action::Status(204)
            ]
        );
        let mut s = Script::parse("503:retry-after=1", "204:delay=5").unwrap();
        assert_eq!(s.next().retry_after.as_deref(), Some("1"));
        assert_eq!(s.next().delay, Duration::from_millis(5));
    }

    #[test]
    fn timed_steps_last_their_duration() {
        let mut s = Script::parse("503:for=50", "204").unwrap();
        assert_eq!(s.next().action, Action::Status(503));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(s.next().action, Action::Status(204));
    }

    #[test]
    fn bad_steps_are_errors() {
        assert!(parse_step("abc").is_err());
        assert!(parse_step("204:nope=1").is_err());
        assert!(parse_step("204*x").is_err());
    }
}
