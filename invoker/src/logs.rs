//! Log lines of a container, and how they become an activation's `logs`.
//!
//! Each line is stamped with an RFC 3339 time (`2024-05-29T16:26:40.123456789Z`) when it arrives
//! from the container; an activation's log line is that stamp padded to 30 characters, the stream and
//! the text: `2024-05-29T16:26:40.1234Z      stdout: hello`. An activation's lines end when the
//! sentinel has been seen on both streams. The container may already run the next activation while
//! this one's lines are read: a line of a stream whose sentinel was seen belongs to the next one and
//! is kept for it ([`LogStream`]).

use std::collections::VecDeque;
use std::time::Duration;

use owl_entity::container::SENTINEL;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: String,
    pub stderr: bool,
    pub text: String,
}

impl LogLine {
    /// A line received now.
    pub fn now(text: &str, stderr: bool) -> LogLine {
        LogLine {
            time: now_rfc3339(),
            stderr,
            text: text.into(),
        }
    }

    pub fn format(&self) -> String {
        let stream = if self.stderr { "stderr" } else { "stdout" };
        format!("{:<30} {stream}: {}", self.time, self.text)
    }
}

/// Now, as Docker writes times (UTC, nanoseconds).
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

pub const TRUNCATED: &str = "Logs were truncated because the total bytes size exceeds the limit of";
pub const COLLECTION_PROBLEM: &str =
    "There was an issue while collecting your logs. Data might be missing.";
pub const DEVELOPER_ERROR_WARNING: &str =
    "The action did not initialize or run as expected. Log data might be missing.";

/// How to cut one activation's lines.
pub struct Collect {
    /// Bytes of text kept at most (the action's log limit); 0 keeps none.
    pub limit: usize,
    /// Wait for the sentinels (false after a developer error: the runtime may never print them).
    pub await_sentinels: bool,
    /// Give up after this long without a new line.
    pub idle: Duration,
    /// Give up after this long in all.
    pub overall: Duration,
}

/// A container's lines as they come, and those read ahead that belong to the activation after the one
/// being collected.
#[derive(Debug)]
pub struct LogStream {
    rx: mpsc::UnboundedReceiver<LogLine>,
    ahead: VecDeque<LogLine>,
}

impl LogStream {
    pub fn new(rx: mpsc::UnboundedReceiver<LogLine>) -> LogStream {
        LogStream {
            rx,
            ahead: VecDeque::new(),
        }
    }

    /// Drops every line that came so far.
    pub fn discard(&mut self) {
        self.ahead.clear();
        while self.rx.try_recv().is_ok() {}
    }
}

/// Reads one activation's lines from a container's log stream.
pub async fn collect(stream: &mut LogStream, c: &Collect) -> Vec<String> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    let (mut out_done, mut err_done) = (false, false);
    let deadline = Instant::now() + c.overall;
    let idle = if c.await_sentinels {
        c.idle
    } else {
        Duration::from_millis(100)
    };
    let mut earlier = std::mem::take(&mut stream.ahead);
    let mut later = VecDeque::new();
    while !(out_done && err_done) {
        let line = match earlier.pop_front() {
            Some(l) => l,
            None => {
                let wait = idle.min(deadline.saturating_duration_since(Instant::now()));
                match tokio::time::timeout(wait, stream.rx.recv()).await {
                    Ok(Some(l)) => l,
                    Ok(None) | Err(_) => break,
                }
            }
        };
        if (line.stderr && err_done) || (!line.stderr && out_done) {
            later.push_back(line);
            continue;
        }
        if line.text == SENTINEL {
            if line.stderr {
                err_done = true
            } else {
                out_done = true
            }
            continue;
        }
        if truncated {
            continue;
        }
        if bytes + line.text.len() > c.limit {
            truncated = true;
            continue;
        }
        bytes += line.text.len();
        out.push(line.format());
    }
    later.extend(earlier);
    stream.ahead = later;
    if truncated {
        let note = LogLine {
            time: now_rfc3339(),
            stderr: true,
            text: format!("{TRUNCATED} {} bytes.", c.limit),
        };
        out.push(note.format());
    }
    if !c.await_sentinels {
        out.push(
            LogLine {
                time: now_rfc3339(),
                stderr: true,
                text: DEVELOPER_ERROR_WARNING.into(),
            }
            .format(),
        );
    } else if !(out_done && err_done) {
        out.push(
            LogLine {
                time: now_rfc3339(),
                stderr: true,
                text: COLLECTION_PROBLEM.into(),
            }
            .format(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_formatted_as_openwhisk_formats_them() {
        let line = |time: &str, stderr, text: &str| LogLine {
            time: time.into(),
            stderr,
            text: text.into(),
        };
        assert_eq!(
            line("2024-05-29T16:26:40.1234Z", false, "hello world").format(),
            "2024-05-29T16:26:40.1234Z      stdout: hello world"
        );
        assert_eq!(
            line("2024-05-29T16:26:40.123456789Z", true, "oops").format(),
            "2024-05-29T16:26:40.123456789Z stderr: oops"
        );
    }

    #[test]
    fn now_is_an_rfc3339_utc_time() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30);
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }

    fn collect_opts(limit: usize) -> Collect {
        Collect {
            limit,
            await_sentinels: true,
            idle: Duration::from_millis(200),
            overall: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn an_activation_ends_at_both_sentinels_and_the_next_begins_after() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut rx = LogStream::new(rx);
        // The next activation's stdout line comes before this one's stderr sentinel.
        for (t, e) in [
            ("a", false),
            ("b", true),
            (SENTINEL, false),
            ("next", false),
            (SENTINEL, true),
            ("next err", true),
            (SENTINEL, false),
            (SENTINEL, true),
        ] {
            tx.send(LogLine {
                time: "2024-01-01T00:00:00Z".into(),
                stderr: e,
                text: t.into(),
            })
            .unwrap();
        }
        let lines = collect(&mut rx, &collect_opts(1000)).await;
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("stdout: a") && lines[1].ends_with("stderr: b"));
        let next = collect(&mut rx, &collect_opts(1000)).await;
        assert_eq!(next.len(), 2, "{next:?}");
        assert!(next[0].ends_with("stdout: next") && next[1].ends_with("stderr: next err"));
    }

    #[tokio::test]
    async fn lines_past_the_limit_are_dropped_with_a_notice() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut rx = LogStream::new(rx);
        for t in ["12345", "67890", SENTINEL] {
            tx.send(LogLine {
                time: "t".into(),
                stderr: false,
                text: t.into(),
            })
            .unwrap();
        }
        tx.send(LogLine {
            time: "t".into(),
            stderr: true,
            text: SENTINEL.into(),
        })
        .unwrap();
        let lines = collect(&mut rx, &collect_opts(7)).await;
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with(
            "Logs were truncated because the total bytes size exceeds the limit of 7 bytes."
        ));
    }

    #[tokio::test]
    async fn missing_sentinels_are_reported() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut rx = LogStream::new(rx);
        tx.send(LogLine {
            time: "t".into(),
            stderr: false,
            text: "only".into(),
        })
        .unwrap();
        let lines = collect(&mut rx, &collect_opts(100)).await;
        assert!(lines.last().unwrap().ends_with(COLLECTION_PROBLEM));
        drop(tx);
    }
}
