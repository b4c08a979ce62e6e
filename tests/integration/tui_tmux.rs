//! The real binary in a real terminal (tmux): the demo race shows every
//! engine and the leaderboard, `i` opens the inspector with streamed text,
//! `?` shows help, `c` the charts (←/→ the metric, Esc back), `d` an engine
//! in detail, `t` the timeline of recent requests (↓ an older one, Esc
//! back), `q` ends the race, writes the results and gives the shell back
//! with the terminal restored.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a view has to appear after its key.
const SHORT: Duration = Duration::from_secs(5);

struct Session(String);

/// The request the timeline's caption is about (`#123 ok  send …`).
fn caption_id(screen: &str) -> Option<u64> {
    screen.lines().find_map(|line| {
        let (_, rest) = line.split_once('#')?;
        let (id, tail) = rest.split_once(' ')?;
        (tail.starts_with("ok  send") || tail.starts_with("failed: "))
            .then(|| id.parse().ok())
            .flatten()
    })
}

impl Session {
    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(args).output().expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.0];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.0])
    }

    /// The program has left the alternate screen (the terminal is restored).
    fn assert_alternate_screen_off(&self) {
        let alternate = self.tmux(&["display-message", "-p", "-t", &self.0, "#{alternate_on}"]);
        assert_eq!(alternate.trim(), "0");
    }

    /// Sends one key and waits for the screen it makes.
    fn press(&self, key: &str, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        self.send(&[key]);
        self.wait_for(what, timeout, ok)
    }

    /// Waits until the screen satisfies `ok`, or panics with the screen.
    fn wait_for(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

#[test]
fn demo_race_in_a_real_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("skipping: tmux is not installed (.ci/run installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let name = format!("llm-locust-test-{}", std::process::id());
    let repo = env!("CARGO_MANIFEST_DIR");
    let started = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            repo,
        ])
        .args([
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            "TERM=xterm-256color",
            "PS1=READY$ ",
            "bash",
            "--norc",
            "--noprofile",
        ])
        .status()
        .unwrap();
    assert!(started.success());
    let session = Session(name);
    session.wait_for("the shell", Duration::from_secs(5), |s| {
        s.contains("READY$")
    });
    let command = format!(
        "{} race races/demo.yaml --duration 60 --countdown 1 --output-dir {}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_llm-locust"),
        out.display()
    );
    session.send(&[&command, "Enter"]);

    let screen = session.wait_for(
        "every engine and the leaderboard",
        Duration::from_secs(20),
        |s| {
            ["prefill-king", "decode-demon", "overbooked"]
                .iter()
                .all(|n| s.contains(n))
                && s.contains("🥇")
        },
    );
    assert!(!screen.contains("EXIT="), "the race ended early:\n{screen}");

    session.press(
        "i",
        "the inspector with streamed text",
        Duration::from_secs(10),
        |s| s.contains("Inspector") && s.contains("TTFT") && s.contains("tokens"),
    );
    session.press("i", "the inspector closed", SHORT, |s| {
        !s.contains("Inspector")
    });
    session.press("?", "the help overlay", SHORT, |s| {
        s.contains("pause or resume") && s.contains("request inspector")
    });
    // Each key waits for the screen the last one made: an Escape followed
    // at once by a key reads as one Alt-key.
    session.press("Escape", "the help closed", SHORT, |s| {
        !s.contains("pause or resume")
    });
    session.press("c", "the charts", SHORT, |s| {
        s.contains("TTFT per second: p50 line, p99 dots") && s.contains("Esc back")
    });
    session.press("Right", "the next metric", SHORT, |s| {
        s.contains("TTFOT per second")
    });
    session.press("Escape", "the lanes again", SHORT, |s| {
        s.contains("prefill-king sim-fast-prefill") && !s.contains("TTFOT per second")
    });
    session.press("d", "the first engine in detail", SHORT, |s| {
        s.contains("prefill-king sim-fast-prefill · details")
            && s.contains("latest requests")
            && s.contains("p99.9")
    });
    session.press("Right", "the next engine in detail", SHORT, |s| {
        s.contains("decode-demon sim-fast-decode · details")
    });
    session.press("Escape", "the lanes after the details", SHORT, |s| {
        s.contains("prefill-king sim-fast-prefill") && !s.contains("· details")
    });
    session.press("t", "the timeline", SHORT, |s| {
        s.contains("Timeline — recent requests")
            && s.contains("░ waiting  ▒ to first token  █ decoding  ✗ failed")
            && s.contains(" ok  send ")
    });
    // Paused, the newest request stays the newest: ↓ selects the one before.
    let paused = session.press("p", "the race paused", SHORT, |s| s.contains("PAUSED"));
    let newest = caption_id(&paused).expect("a selected request");
    session.press("Down", "an older request selected", SHORT, |s| {
        caption_id(s).is_some_and(|id| id != newest)
    });
    session.press("p", "the race going on", SHORT, |s| !s.contains("PAUSED"));
    session.press("Escape", "the lanes after the timeline", SHORT, |s| {
        s.contains("prefill-king sim-fast-prefill") && !s.contains("to first token")
    });
    session.press("e", "the explainer", SHORT, |s| {
        s.contains("What the numbers mean (docs/METRICS.md")
    });
    let at_section = session.press("Right", "its next section", SHORT, |s| {
        s.contains("Time") && !s.contains("lines 1–")
    });
    // PgDn moves by the page shown: the next page starts after its last line.
    let shown = |s: &str| -> Option<(usize, usize)> {
        let from = s.split("lines ").nth(1)?;
        let (first, rest) = from.split_once('–')?;
        let last = rest.split(' ').next()?;
        Some((first.parse().ok()?, last.parse().ok()?))
    };
    let (_, last) = shown(&at_section).expect("the explainer's lines in its title");
    session.press("NPage", "the next page", SHORT, |s| {
        shown(s).is_some_and(|(first, _)| first == last + 1)
    });
    session.press("Escape", "the explainer closed", SHORT, |s| {
        !s.contains("What the numbers mean")
    });
    // q stops the race at once, says so while the requests in flight
    // finish, then shows the final screen, which the next q leaves.
    session.press("q", "the race stopping", SHORT, |s| {
        s.contains("STOPPING — finishing")
    });
    session.wait_for("the final screen", Duration::from_secs(15), |s| {
        s.contains("FINISHED — winner")
    });
    session.send(&["q"]);
    // 0, or 1 once the demo's overbooked engine has shed enough load to
    // fail its error-rate objective: either way the race ran and ended.
    let screen = session.wait_for("the shell back", Duration::from_secs(20), |s| {
        s.contains("EXIT=0") || s.contains("EXIT=1")
    });
    assert!(screen.contains("READY$"), "{screen}");
    session.assert_alternate_screen_off();
    let dirs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1);
    assert!(Path::new(&dirs[0]).join("summary.json").is_file());
    // The leaderboard table is printed after the terminal is restored.
    assert!(screen.contains("TTFT p50"), "{screen}");

    // The same race again, from its race file.
    let race_file = Path::new(&dirs[0]).join("race.llmrace");
    assert!(race_file.is_file());
    session.send(&["clear", "Enter"]);
    session.wait_for("a clear screen", SHORT, |s| !s.contains("EXIT="));
    let command = format!(
        "{} replay {}; echo REPLAY_EXIT=$?",
        env!("CARGO_BIN_EXE_llm-locust"),
        race_file.display()
    );
    session.send(&[&command, "Enter"]);
    session.wait_for("the replay playing", Duration::from_secs(10), |s| {
        s.contains("REPLAY ▶") && s.contains("decode-demon") && s.contains("space play/pause")
    });
    session.press("Space", "the replay paused", SHORT, |s| {
        s.contains("REPLAY ⏸")
    });
    session.press("+", "2× speed", SHORT, |s| s.contains("⏸ 2×"));
    session.press("+", "4× speed", SHORT, |s| s.contains("⏸ 4×"));
    // Seeking past the end shows the final result.
    session.press("Right", "the end of the race", SHORT, |s| {
        s.contains("FINISHED")
    });
    session.press("Home", "the start again", SHORT, |s| {
        s.contains("REPLAY ▶") && !s.contains("FINISHED")
    });
    session.press("?", "the replay's help", SHORT, |s| {
        s.contains("faster / slower")
    });
    session.press("Escape", "the replay's help closed", SHORT, |s| {
        !s.contains("faster / slower")
    });
    session.send(&["q"]);
    let screen = session.wait_for("the shell back", Duration::from_secs(10), |s| {
        s.contains("REPLAY_EXIT=0")
    });
    assert!(screen.contains("READY$"), "{screen}");
    session.assert_alternate_screen_off();
}

#[test]
fn a_slow_load_shows_the_loading_screen_and_q_quits_before_the_race() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("skipping: tmux is not installed (.ci/run installs it)");
        return;
    }
    let tokenizer = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/tokenizers/qwen3/tokenizer.json");
    if !tokenizer.is_file() {
        println!(
            "skipping: {} is absent (it is in ../shared/fixtures)",
            tokenizer.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Hundreds of long synthetic prompts take seconds to build and check.
    let race = tmp.path().join("slow.yaml");
    std::fs::write(
        &race,
        format!(
            "race:\n  name: Slow to load\n  duration: 5\n  dataset: synthetic\n  \
             target_input_tokens: 4096\n  synthetic: {{prompts: 256}}\n  engines:\n    \
             - name: a\n      tokenizer: {}\n      simulate: {{ttft_ms: 20}}\n",
            tokenizer.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let name = format!("llm-locust-load-{}", std::process::id());
    let command = format!(
        "{} race {} --output-dir {}; echo EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_llm-locust"),
        race.display(),
        out.display()
    );
    let started = Command::new("tmux")
        .args(["new-session", "-d", "-s", &name, "-x", "100", "-y", "30"])
        .arg(&command)
        .status()
        .unwrap();
    assert!(started.success());
    let session = Session(name);
    session.wait_for("the loading screen", Duration::from_secs(10), |s| {
        s.contains("Slow to load") && s.contains("Loading:")
    });
    session.send(&["q"]);
    let screen = session.wait_for("the exit", Duration::from_secs(10), |s| s.contains("EXIT="));
    assert!(screen.contains("stopped while loading"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
    session.assert_alternate_screen_off();
    // Nothing was raced, so nothing was written.
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

/// Headless in an 80-column terminal: the race line, the progress lines,
/// the final table and the failures' messages all fit; nothing wraps (the
/// files' paths are printed whole).
#[test]
fn headless_output_fits_an_80_column_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("skipping: tmux is not installed (.ci/run installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("llm-locust-narrow-{}", std::process::id());
    let command = format!(
        "{} race races/demo.yaml --no-tui --duration 5 --countdown 0 --output-dir {}; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_llm-locust"),
        tmp.path().join("out").display()
    );
    let started = Command::new("tmux")
        .args(["new-session", "-d", "-s", &name, "-x", "80", "-y", "60"])
        .args(["-c", env!("CARGO_MANIFEST_DIR"), "bash", "-c", &command])
        .status()
        .unwrap();
    assert!(started.success());
    let session = Session(name);
    session.wait_for("the race's end", Duration::from_secs(40), |s| {
        s.contains("EXIT=")
    });
    // Joined: a line the terminal wrapped comes back whole.
    let whole = session.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", &session.0]);
    assert!(
        whole.contains("TTFT p50") && whole.contains("overbooked"),
        "{whole}"
    );
    assert!(
        whole.contains("failed") && whole.contains("http_429"),
        "{whole}"
    );
    // A file's path is printed whole, to be copied: the one word that may
    // be longer than the line.
    let paths = [
        "summary: ",
        "report: ",
        "requests: ",
        "race recording: ",
        "EXIT=",
    ];
    for line in whole
        .lines()
        .filter(|l| !paths.iter().any(|p| l.starts_with(p)))
    {
        assert!(
            line.trim_end().chars().count() <= 80,
            "wider than 80: {line:?}\n{whole}"
        );
    }
}
