//! The local server's log: every request's line is appended to a buffer in memory, and a
//! thread of its own writes what has gathered to stdout in one write. A request never waits on
//! the terminal or the file behind stdout, and never wakes that thread while it is writing or
//! resting: under load the thread writes once per [`REST`] whatever the rate, where waking it
//! for every line (a futex wake, its spinning and a write per line) cost about a tenth of the
//! GET rate (BENCHMARKS.md, "Reading the request-rate numbers"). A quiet server's line goes
//! out at once: the thread rests only after a write.
//!
//! Never lossy: once [`MAX_PENDING`] bytes wait, loggers wait for room rather than lines
//! vanish. [`LogGuard`] writes what is pending when it is dropped.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writing thread rests after a write before it takes what gathered meanwhile.
pub const REST: Duration = Duration::from_millis(10);
/// Bytes pending at most; a logger finding more waits for the thread's next write.
pub const MAX_PENDING: usize = 1024 * 1024;

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// The thread waits for a first line (set and cleared by it): only then is it woken.
    idle: bool,
    stopping: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// The thread waits on it for a first line.
    line: Condvar,
    /// Loggers wait on it for room.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where formatted lines go ([`tracing_subscriber::fmt::MakeWriter`]): cheap to clone.
#[derive(Clone)]
pub struct LogLines {
    shared: Arc<Shared>,
}

/// Stops the writing thread once it has written every pending line.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the thread that writes to `out`; `name` names it.
pub fn start<W: Write + Send + 'static>(
    name: &str,
    out: W,
) -> std::io::Result<(LogLines, LogGuard)> {
    let shared = Arc::new(Shared::default());
    let thread = std::thread::Builder::new().name(name.to_owned()).spawn({
        let shared = Arc::clone(&shared);
        move || write_lines(&shared, out)
    })?;
    Ok((
        LogLines {
            shared: Arc::clone(&shared),
        },
        LogGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writing thread: waits for a line, writes everything pending, rests, and again.
fn write_lines<W: Write>(shared: &Shared, mut out: W) {
    let mut spare = Vec::new();
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && !pending.stopping {
            pending.idle = true;
            pending = shared.line.wait(pending).unwrap_or_else(|p| p.into_inner());
        }
        pending.idle = false;
        let stopping = pending.stopping;
        std::mem::swap(&mut pending.bytes, &mut spare);
        drop(pending);
        shared.room.notify_all();
        // A log that cannot be written (stdout closed) must not stop the server.
        let _ = out.write_all(&spare).and_then(|()| out.flush());
        spare.clear();
        if stopping {
            // Lines logged after the stop began (none: the guard goes last) are not waited for.
            return;
        }
        std::thread::sleep(REST);
    }
}

impl Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.shared.lock();
        while pending.bytes.len() >= MAX_PENDING && !pending.stopping {
            pending = self
                .shared
                .room
                .wait(pending)
                .unwrap_or_else(|p| p.into_inner());
        }
        pending.bytes.extend_from_slice(buf);
        if pending.idle {
            pending.idle = false;
            self.shared.line.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogLines {
    type Writer = LogLines;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.line.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What the thread wrote, and in how many writes.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicUsize>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.bytes.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().expect("sink").clone()).expect("utf-8")
        }
    }

    #[test]
    fn every_line_of_many_loggers_is_written_whole_and_in_each_loggers_order() {
        let sink = Sink::default();
        let (lines, guard) = start("test-log", sink.clone()).expect("thread");
        let loggers: Vec<_> = (0..4)
            .map(|logger| {
                let mut lines = lines.clone();
                std::thread::spawn(move || {
                    // One write per line, as the formatter makes.
                    for n in 0..5000 {
                        let line = format!("logger {logger} line {n}\n");
                        lines.write_all(line.as_bytes()).expect("write");
                    }
                })
            })
            .collect();
        for logger in loggers {
            logger.join().expect("logger");
        }
        drop(guard);
        let text = sink.text();
        let mut next = [0; 4];
        for line in text.lines() {
            let words: Vec<_> = line.split(' ').collect();
            let [_, logger, _, n] = words.as_slice() else {
                panic!("torn line {line:?}");
            };
            let logger: usize = logger.parse().expect("logger");
            assert_eq!(n.parse::<usize>().expect("n"), next[logger], "{line}");
            next[logger] += 1;
        }
        assert_eq!(next, [5000; 4], "every line written once");
        assert!(
            sink.writes.load(Ordering::SeqCst) < 20_000,
            "lines are gathered into fewer writes"
        );
    }

    #[test]
    fn a_quiet_loggers_line_is_written_without_waiting_for_the_guard() {
        let sink = Sink::default();
        let (mut lines, _guard) = start("test-log", sink.clone()).expect("thread");
        writeln!(lines, "hello").expect("write");
        for _ in 0..500 {
            if sink.text() == "hello\n" {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the line never came: {:?}", sink.text());
    }

    /// A sink that takes nothing until it is opened: the thread's write blocks.
    #[derive(Clone, Default)]
    struct Gate {
        open: Arc<(Mutex<bool>, Condvar)>,
        sink: Sink,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (open, opened) = &*self.open;
            let mut open = open.lock().expect("gate");
            while !*open {
                open = opened.wait(open).expect("gate");
            }
            self.sink.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_logger_waits_for_room_rather_than_a_line_being_dropped() {
        let gate = Gate::default();
        let (mut lines, guard) = start("test-log", gate.clone()).expect("thread");
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        let total = 3 * MAX_PENDING / 1024;
        let written = Arc::new(AtomicUsize::new(0));
        let logger = std::thread::spawn({
            let written = Arc::clone(&written);
            move || {
                for _ in 0..total {
                    lines.write_all(&line).expect("write");
                    written.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        // With the output stuck, the logger gets at most two buffers' worth in (one taken by
        // the stuck write, one pending) and then waits.
        let mut last = usize::MAX;
        while written.load(Ordering::SeqCst) != last {
            last = written.load(Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            (MAX_PENDING / 1024..total).contains(&last),
            "the logger fills the buffer, then waits while the output is stuck ({last})"
        );
        let (open, opened) = &*gate.open;
        *open.lock().expect("gate") = true;
        opened.notify_all();
        logger.join().expect("logger");
        drop(guard);
        assert_eq!(gate.sink.text().lines().count(), total, "no line lost");
    }
}
