//! What scraping a server's metrics costs the client: a `/metrics` page of
//! 200 families in vLLM's shape (gauges, counters and histograms for two
//! models, about 70 KB) served on 127.0.0.1, scraped over HTTP as the race
//! does (`Scraper::scrape`: its own client, read, parsed, mapped) and
//! folded (`ServerFold::observe`). Reports the process CPU time per scrape
//! (one scrape a second per engine is the default), and the parse-and-fold
//! part alone.
//!
//! Run: `cargo bench --bench server_scrape` (numbers go to
//! docs/PERFORMANCE.md by hand). Optional: `BENCH_SCRAPES=2000`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use llm_locust::config::ServerMetricsSpec;
use llm_locust::engine::server_metrics::Scraper;
use llm_locust::metrics::server::{ServerFold, read_page};

/// 200 families: the 8 the race reads, and 192 others (a third of them
/// histograms of 12 buckets), each for two models.
fn page() -> String {
    let mut out = String::new();
    let models = ["Qwen/Qwen3-0.6B", "meta-llama/Llama-3.1-8B"];
    let read = [
        ("vllm:num_requests_running", "gauge"),
        ("vllm:num_requests_waiting", "gauge"),
        ("vllm:kv_cache_usage_perc", "gauge"),
        ("vllm:prefix_cache_queries_total", "counter"),
        ("vllm:prefix_cache_hits_total", "counter"),
        ("vllm:num_preemptions_total", "counter"),
        ("vllm:prompt_tokens_total", "counter"),
        ("vllm:generation_tokens_total", "counter"),
    ];
    for (name, kind) in read {
        let _ = writeln!(out, "# HELP {name} A figure.\n# TYPE {name} {kind}");
        for (i, m) in models.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}{{engine=\"0\",model_name=\"{m}\"}} {}.0",
                10 + i
            );
        }
    }
    for f in 0..192 {
        let name = format!("vllm:other_family_{f}");
        if f % 3 == 0 {
            let _ = writeln!(
                out,
                "# HELP {name}_seconds A histogram.\n# TYPE {name}_seconds histogram"
            );
            for m in models {
                for (b, le) in [
                    "0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5",
                    "1.0", "+Inf",
                ]
                .iter()
                .enumerate()
                {
                    let _ = writeln!(
                        out,
                        "{name}_seconds_bucket{{engine=\"0\",le=\"{le}\",model_name=\"{m}\"}} {}.0",
                        b * 3
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_seconds_count{{engine=\"0\",model_name=\"{m}\"}} 33.0"
                );
                let _ = writeln!(
                    out,
                    "{name}_seconds_sum{{engine=\"0\",model_name=\"{m}\"}} 1.25"
                );
            }
        } else {
            let _ = writeln!(out, "# HELP {name} A gauge.\n# TYPE {name} gauge");
            for m in models {
                let _ = writeln!(out, "{name}{{engine=\"0\",model_name=\"{m}\"}} 0.5");
            }
        }
    }
    out
}

fn cpu() -> Duration {
    cpu_time::ProcessTime::now().as_duration()
}

fn main() {
    let scrapes: u32 = std::env::var("BENCH_SCRAPES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let text = page();
    let families = text.lines().filter(|l| l.starts_with("# TYPE")).count();
    println!("page: {families} families, {} bytes", text.len());

    // Parse and fold alone.
    let mut fold = ServerFold::default();
    let (wall, start) = (Instant::now(), cpu());
    for i in 0..scrapes {
        let sample = read_page(&text, "Qwen/Qwen3-0.6B", &[]).unwrap();
        fold.observe(Duration::from_secs(u64::from(i)), Ok(&sample));
    }
    let (took, wall) = (cpu() - start, wall.elapsed());
    println!(
        "parse + fold: {:.3} ms CPU per scrape ({:.3} ms wall), {scrapes} scrapes",
        took.as_secs_f64() * 1000.0 / f64::from(scrapes),
        wall.as_secs_f64() * 1000.0 / f64::from(scrapes)
    );

    // Over HTTP, as the race does, served by a second thread's runtime
    // whose CPU is measured apart.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let body = text.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let server = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        server.block_on(async move {
            let app = axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { body }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    let engine_url = reqwest::Url::parse(&format!("http://{addr}/v1/chat/completions")).unwrap();
    let scraper = Scraper::new(
        0,
        &engine_url,
        "Qwen/Qwen3-0.6B",
        &ServerMetricsSpec::default(),
    )
    .unwrap();
    runtime.block_on(async {
        scraper.scrape().await.unwrap();
        let (wall, start) = (Instant::now(), cpu());
        for _ in 0..scrapes {
            scraper.scrape().await.unwrap();
        }
        let (took, wall) = (cpu() - start, wall.elapsed());
        println!(
            "over HTTP (client and server in this process): {:.3} ms CPU per scrape ({:.3} ms wall)",
            took.as_secs_f64() * 1000.0 / f64::from(scrapes),
            wall.as_secs_f64() * 1000.0 / f64::from(scrapes)
        );
    });
}
