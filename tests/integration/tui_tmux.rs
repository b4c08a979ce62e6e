//! The real binary in a real terminal (tmux): the demo race shows every
//! engine and the leaderboard, `i` opens the inspector with streamed text,
//! `?` shows help, `c` the charts (←/→ the metric, Esc back), `d` an engine
//! in detail, `t` the timeline of recent requests (↓ an older one, Esc
//! back), `q` ends the race, writes the results and gives the shell back
//! with the terminal restored.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Session(String);

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

    session.send(&["i"]);
    session.wait_for(
        "the inspector with streamed text",
        Duration::from_secs(10),
        |s| s.contains("Inspector") && s.contains("TTFT") && s.contains("tokens"),
    );
    session.send(&["i"]);
    session.send(&["?"]);
    session.wait_for("the help overlay", Duration::from_secs(5), |s| {
        s.contains("pause or resume") && s.contains("request inspector")
    });
    session.send(&["Escape"]);
    session.send(&["c"]);
    session.wait_for("the charts", Duration::from_secs(5), |s| {
        s.contains("TTFT per second: p50 line, p99 dots") && s.contains("Esc back")
    });
    session.send(&["Right"]);
    session.wait_for("the next metric", Duration::from_secs(5), |s| {
        s.contains("TTFOT per second")
    });
    session.send(&["Escape"]);
    session.wait_for("the lanes again", Duration::from_secs(5), |s| {
        s.contains("prefill-king sim-fast-prefill") && !s.contains("TTFOT per second")
    });
    session.send(&["d"]);
    session.wait_for("the first engine in detail", Duration::from_secs(5), |s| {
        s.contains("prefill-king sim-fast-prefill · details")
            && s.contains("latest requests")
            && s.contains("p99.9")
    });
    session.send(&["Right"]);
    session.wait_for("the next engine in detail", Duration::from_secs(5), |s| {
        s.contains("decode-demon sim-fast-decode · details")
    });
    session.send(&["Escape"]);
    session.wait_for("the lanes after the details", Duration::from_secs(5), |s| {
        s.contains("prefill-king sim-fast-prefill") && !s.contains("· details")
    });
    session.send(&["t"]);
    session.wait_for("the timeline", Duration::from_secs(5), |s| {
        s.contains("Timeline — recent requests")
            && s.contains("░ waiting  ▒ to first token  █ decoding  ✗ failed")
            && s.contains(" ok  send ")
    });
    session.send(&["Down"]);
    session.send(&["Escape"]);
    session.wait_for(
        "the lanes after the timeline",
        Duration::from_secs(5),
        |s| s.contains("prefill-king sim-fast-prefill") && !s.contains("to first token"),
    );
    session.send(&["e"]);
    session.wait_for("the explainer", Duration::from_secs(5), |s| {
        s.contains("What the numbers mean (docs/METRICS.md")
    });
    session.send(&["Right"]);
    session.wait_for("its next section", Duration::from_secs(5), |s| {
        s.contains("Time") && !s.contains("line 1 of")
    });
    session.send(&["Escape"]);
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
    let command = format!(
        "{} replay {}; echo REPLAY_EXIT=$?",
        env!("CARGO_BIN_EXE_llm-locust"),
        race_file.display()
    );
    session.send(&[&command, "Enter"]);
    session.wait_for("the replay playing", Duration::from_secs(10), |s| {
        s.contains("REPLAY ▶") && s.contains("decode-demon") && s.contains("space play/pause")
    });
    session.send(&["Space"]);
    session.wait_for("the replay paused", Duration::from_secs(5), |s| {
        s.contains("REPLAY ⏸")
    });
    session.send(&["+", "+"]);
    session.wait_for("4× speed", Duration::from_secs(5), |s| s.contains("⏸ 4×"));
    // Seeking past the end shows the final result.
    session.send(&["Right"]);
    session.wait_for("the end of the race", Duration::from_secs(5), |s| {
        s.contains("FINISHED")
    });
    session.send(&["Home"]);
    session.wait_for("the start again", Duration::from_secs(5), |s| {
        s.contains("REPLAY ▶") && !s.contains("FINISHED")
    });
    session.send(&["?"]);
    session.wait_for("the replay's help", Duration::from_secs(5), |s| {
        s.contains("faster / slower")
    });
    session.send(&["Escape", "q"]);
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
