//! `rapport coordinator` and `rapport worker`: the cluster's long-running
//! processes. `main` owns the signals: Ctrl-C or SIGTERM cancels one token;
//! the worker stops taking jobs and finishes the one in hand, the
//! coordinator stops accepting requests and leaves its run to resume.
//!
//! A coordinator without a tokens file, input roots or an output root
//! starts only on a loopback address (development), and says so; on any
//! other address it refuses to start.

use std::sync::Arc;

use anyhow::Context;
use rapport_backend::metrics::Metrics;
use rapport_backend::object_url::is_object_url;
use rapport_backend::tls::TlsSettings;
use rapport_backend::{Backends, ClusterSettings, CoordinatorBackends, DataRoots};
use rapport_coordinator::access::{Access, TokenFile};
use rapport_coordinator::driver::Limits;
use rapport_coordinator::history::HistorySettings;
use rapport_coordinator::http::{metrics_response, router};
use rapport_coordinator::service::{Coordinator, CoordinatorOptions, Retention};
use rapport_coordinator::FileCaps;
use rapport_worker::{run_worker, DelayPoint, WorkerOptions};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::args::{CoordinatorArgs, WorkerArgs};
use crate::exit::CliError;
use crate::settings::{url_with_password, Settings};

/// Cancels `token` on Ctrl-C or SIGTERM. The handlers are in place when
/// this returns, so a signal that comes while the process is still
/// connecting stops it cleanly instead of killing it.
pub fn cancel_on_signals(token: CancellationToken) -> Result<(), CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    let register = |kind| {
        signal(kind).map_err(|e| CliError::Failed(anyhow::anyhow!("cannot handle signals: {e}")))
    };
    let (mut term, mut int) = (
        register(SignalKind::terminate())?,
        register(SignalKind::interrupt())?,
    );
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        info!("shutting down");
        token.cancel();
    });
    Ok(())
}

/// The cluster settings of `s`: passwords read from their files, data
/// roots resolved.
fn cluster_settings(s: &Settings, prefetch: u16) -> Result<ClusterSettings, CliError> {
    let usage = |e: &dyn std::fmt::Display| CliError::Usage(e.to_string());
    let data_roots = DataRoots::new(&s.input_roots, s.output_root.as_deref())
        .map_err(|e| CliError::Usage(format!("data roots: {e}")))?;
    let tls = TlsSettings::from_files(
        s.tls_ca_file.as_deref(),
        s.tls_cert_file.as_deref(),
        s.tls_key_file.as_deref(),
    )
    .map_err(|e| usage(&e))?;
    Ok(ClusterSettings {
        amqp_url: url_with_password(&s.amqp_url, s.amqp_password_file.as_deref())
            .map_err(|e| usage(&e))?,
        redis_url: url_with_password(&s.redis_url, s.redis_password_file.as_deref())
            .map_err(|e| usage(&e))?,
        namespace: s.namespace.clone(),
        staging: s.staging.clone(),
        prefetch,
        data_roots,
        tls,
    })
}

/// Connects, unless a signal comes first (then `None`).
async fn connect_unless_stopped(
    settings: &ClusterSettings,
    shutdown: &CancellationToken,
) -> Result<Option<Backends>, CliError> {
    tokio::select! {
        _ = shutdown.cancelled() => Ok(None),
        backends = Backends::cluster(settings) => backends
            .map(Some)
            .map_err(|e| CliError::Failed(anyhow::anyhow!("{e}"))),
    }
}

/// Who may call the API. Off loopback a tokens file and both data roots
/// are required; on loopback their absence is allowed, and logged.
/// Where succeeded runs are kept: `history_root`, else below a local
/// output root, else nowhere (said at start). The history is a folder:
/// with an object-storage output root it needs `history_root`.
fn history_settings(settings: &Settings) -> Option<HistorySettings> {
    let local_output_root = settings
        .output_root
        .as_ref()
        .filter(|r| !is_object_url(&r.display().to_string()));
    let root = settings
        .history_root
        .clone()
        .or_else(|| local_output_root.map(|r| r.join("rapport-history")));
    if root.is_none() {
        warn!("run history off: no history_root and no local output_root");
    }
    root.map(|root| HistorySettings {
        root,
        keep: settings.history_keep.max(1),
    })
}

fn access_for(settings: &Settings, loopback: bool) -> Result<Access, CliError> {
    let missing: Vec<&str> = [
        (
            settings.tokens_file.is_none(),
            "a tokens file (--tokens-file)",
        ),
        (
            settings.input_roots.is_empty(),
            "input roots (--input-root)",
        ),
        (
            settings.output_root.is_none(),
            "an output root (--output-root)",
        ),
    ]
    .into_iter()
    .filter_map(|(absent, what)| absent.then_some(what))
    .collect();
    if !missing.is_empty() {
        if !loopback {
            return Err(CliError::Usage(format!(
                "listening on a non-loopback address needs {}",
                missing.join(", ")
            )));
        }
        warn!(
            "development mode: serving on a loopback address without {}",
            missing.join(", ")
        );
    }
    match &settings.tokens_file {
        Some(path) => Ok(Access::Tokens(Arc::new(
            TokenFile::load(path).map_err(|e| CliError::Usage(e.to_string()))?,
        ))),
        None => Ok(Access::Open),
    }
}

/// Runs `rapport coordinator` until a signal.
pub async fn coordinator_command(
    args: CoordinatorArgs,
    settings: &Settings,
) -> Result<(), CliError> {
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone())?;
    let holder = format!(
        "{}-{}-{:x}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "coordinator".to_owned()),
        std::process::id(),
        rapport_backend::store::fresh_epoch()
    );
    let listen_error =
        |e: std::io::Error| CliError::Usage(format!("listen {}: {e}", settings.listen));
    // Checked before binding: a refused setup never opens the port.
    let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&settings.listen)
        .await
        .map_err(listen_error)?
        .collect();
    let loopback = !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback());
    let access = access_for(settings, loopback)?;
    let listener = tokio::net::TcpListener::bind(addresses.as_slice())
        .await
        .map_err(listen_error)?;
    let cluster = cluster_settings(settings, 1)?;
    let connect = CoordinatorBackends::connect(&cluster, holder);
    let backends = tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        b = connect => b.map_err(|e| CliError::Failed(anyhow::anyhow!("{e}")))?,
    };
    if let Access::Tokens(file) = &access {
        tokio::spawn(file.clone().watch(shutdown.clone()));
    }
    let options = CoordinatorOptions {
        retention: Retention {
            max_age: std::time::Duration::from_secs(settings.retention_days * 24 * 3600),
            max_runs: settings.retention_runs,
        },
        limits: Limits {
            stall: std::time::Duration::from_secs(settings.stall_seconds.max(1)),
            write_pause: std::time::Duration::from_millis(args.write_delay_ms),
            jobs_in_flight: settings.jobs_in_flight,
            ..Limits::default()
        },
        file_caps: FileCaps {
            max_config_bytes: settings.max_config_bytes,
            max_glob_matches: settings.max_glob_matches,
        },
        read_timeout: std::time::Duration::from_secs(settings.read_timeout_seconds.max(1)),
        history: history_settings(settings),
        concurrent_runs: settings.concurrent_runs,
    };
    let coordinator =
        Coordinator::with_lease(backends.requests, backends.exec, backends.lease, options);
    let runner = tokio::spawn(coordinator.clone().run_loop(shutdown.clone()));
    tokio::spawn(coordinator.clone().schedule_loop(shutdown.clone()));
    info!(namespace = %settings.namespace, "coordinator ready");
    let stop = shutdown.clone();
    axum::serve(listener, router(Arc::clone(&coordinator), access))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .context("HTTP server failed")?;
    runner.await.context("runner task")?;
    coordinator.step_down().await;
    Ok(())
}

/// Runs `rapport worker` until a signal.
pub async fn worker_command(args: WorkerArgs, settings: &Settings) -> Result<(), CliError> {
    let concurrency = settings.concurrency.max(1);
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone())?;
    let prefetch = concurrency.min(u16::MAX as usize) as u16;
    let cluster = cluster_settings(settings, prefetch)?;
    if settings.input_roots.is_empty() {
        warn!("no input roots: this worker reads any input a run's plan names");
    }
    let Some(backends) = connect_unless_stopped(&cluster, &shutdown).await? else {
        return Ok(());
    };
    info!(namespace = %settings.namespace, concurrency, "worker ready");
    let job_delay = std::time::Duration::from_millis(args.job_delay_ms);
    let delay_at = match args.job_delay_at.as_str() {
        "before" => DelayPoint::BeforeJob,
        "after-store" => DelayPoint::AfterStore,
        other => {
            return Err(CliError::Usage(format!(
                "--job-delay-at {other}: expected before or after-store"
            )))
        }
    };
    let metrics = Arc::new(Metrics::default());
    if let Some(listen) = &settings.metrics_listen {
        serve_worker_metrics(listen, metrics.clone(), shutdown.clone()).await?;
    }
    run_worker(
        backends,
        WorkerOptions {
            metrics,
            concurrency,
            job_delay,
            delay_at,
        },
        shutdown,
    )
    .await;
    Ok(())
}

/// A worker's `/metrics` listener (and `/healthz`), until `shutdown`.
async fn serve_worker_metrics(
    listen: &str,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Usage(format!("metrics_listen {listen}: {e}")))?;
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move { metrics_response(metrics.render(&[])) }
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move {
        let stop = shutdown.cancelled_owned();
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            warn!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}
