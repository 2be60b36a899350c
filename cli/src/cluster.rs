//! `rapport coordinator` and `rapport worker`: the cluster's long-running
//! processes. `main` owns the signals: Ctrl-C or SIGTERM cancels one token;
//! the worker stops taking jobs and finishes the one in hand, the
//! coordinator stops accepting requests and leaves its run to resume.

use std::sync::Arc;

use anyhow::Context;
use rapport_backend::{Backends, ClusterSettings, CoordinatorBackends};
use rapport_coordinator::driver::Limits;
use rapport_coordinator::http::router;
use rapport_coordinator::service::{Coordinator, CoordinatorOptions, Retention};
use rapport_worker::{run_worker, DelayPoint, WorkerOptions};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::args::{CoordinatorArgs, ServerArgs, WorkerArgs};
use crate::exit::CliError;

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

fn settings(servers: &ServerArgs, prefetch: u16) -> ClusterSettings {
    ClusterSettings {
        amqp_url: servers.amqp_url.clone(),
        redis_url: servers.redis_url.clone(),
        namespace: servers.namespace.clone(),
        staging: servers.staging.clone(),
        prefetch,
    }
}

async fn connect(servers: &ServerArgs, prefetch: u16) -> Result<Backends, CliError> {
    Backends::cluster(&settings(servers, prefetch))
        .await
        .map_err(|e| CliError::Failed(anyhow::anyhow!("{e}")))
}

/// Connects, unless a signal comes first (then `None`).
async fn connect_unless_stopped(
    servers: &ServerArgs,
    prefetch: u16,
    shutdown: &CancellationToken,
) -> Result<Option<Backends>, CliError> {
    tokio::select! {
        _ = shutdown.cancelled() => Ok(None),
        backends = connect(servers, prefetch) => backends.map(Some),
    }
}

/// Runs `rapport coordinator` until a signal.
pub async fn coordinator_command(args: CoordinatorArgs) -> Result<(), CliError> {
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone())?;
    let holder = format!(
        "{}-{}-{:x}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "coordinator".to_owned()),
        std::process::id(),
        rapport_backend::store::fresh_epoch()
    );
    let settings = settings(&args.servers, 1);
    let connect = CoordinatorBackends::connect(&settings, holder);
    let backends = tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        b = connect => b.map_err(|e| CliError::Failed(anyhow::anyhow!("{e}")))?,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("--listen {}: {e}", args.listen)))?;
    let options = CoordinatorOptions {
        retention: Retention {
            max_age: std::time::Duration::from_secs(args.retention_days * 24 * 3600),
            max_runs: args.retention_runs,
        },
        limits: Limits {
            stall: std::time::Duration::from_secs(args.stall_seconds.max(1)),
            write_pause: std::time::Duration::from_millis(args.write_delay_ms),
            ..Limits::default()
        },
    };
    let coordinator =
        Coordinator::with_lease(backends.requests, backends.exec, backends.lease, options);
    let runner = tokio::spawn(coordinator.clone().run_loop(shutdown.clone()));
    info!(listen = %args.listen, namespace = %args.servers.namespace, "coordinator ready");
    let stop = shutdown.clone();
    axum::serve(listener, router(Arc::clone(&coordinator)))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .context("HTTP server failed")?;
    runner.await.context("runner task")?;
    coordinator.step_down().await;
    Ok(())
}

/// Runs `rapport worker` until a signal.
pub async fn worker_command(args: WorkerArgs) -> Result<(), CliError> {
    let concurrency = args.concurrency.max(1);
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone())?;
    let prefetch = concurrency.min(u16::MAX as usize) as u16;
    let Some(backends) = connect_unless_stopped(&args.servers, prefetch, &shutdown).await? else {
        return Ok(());
    };
    info!(namespace = %args.servers.namespace, concurrency, "worker ready");
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
    run_worker(
        backends,
        WorkerOptions {
            concurrency,
            job_delay,
            delay_at,
        },
        shutdown,
    )
    .await;
    Ok(())
}
