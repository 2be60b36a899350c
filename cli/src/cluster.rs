//! `rapport coordinator` and `rapport worker`: the cluster's long-running
//! processes. `main` owns the signals: Ctrl-C or SIGTERM cancels one token;
//! the worker stops taking jobs and finishes the one in hand, the
//! coordinator stops accepting requests and leaves its run to resume.

use std::sync::Arc;

use anyhow::Context;
use rapport_backend::{Backends, ClusterSettings};
use rapport_coordinator::http::router;
use rapport_coordinator::service::Coordinator;
use rapport_worker::{run_worker, WorkerOptions};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::args::{CoordinatorArgs, ServerArgs, WorkerArgs};
use crate::exit::CliError;

/// Cancels `token` on Ctrl-C or SIGTERM.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        token.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        info!("shutting down");
        token.cancel();
    });
}

async fn connect(servers: &ServerArgs, prefetch: u16) -> Result<Backends, CliError> {
    let settings = ClusterSettings {
        amqp_url: servers.amqp_url.clone(),
        redis_url: servers.redis_url.clone(),
        namespace: servers.namespace.clone(),
        staging: servers.staging.clone(),
        prefetch,
    };
    Backends::cluster(&settings)
        .await
        .map_err(|e| CliError::Failed(anyhow::anyhow!("{e}")))
}

/// Runs `rapport coordinator` until a signal.
pub async fn coordinator_command(args: CoordinatorArgs) -> Result<(), CliError> {
    let backends = connect(&args.servers, 1).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("--listen {}: {e}", args.listen)))?;
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone());
    let coordinator = Coordinator::new(backends);
    let runner = tokio::spawn(coordinator.clone().run_loop(shutdown.clone()));
    info!(listen = %args.listen, namespace = %args.servers.namespace, "coordinator ready");
    let stop = shutdown.clone();
    axum::serve(listener, router(Arc::clone(&coordinator)))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .context("HTTP server failed")?;
    runner.await.context("runner task")?;
    Ok(())
}

/// Runs `rapport worker` until a signal.
pub async fn worker_command(args: WorkerArgs) -> Result<(), CliError> {
    let concurrency = args.concurrency.max(1);
    let backends = connect(&args.servers, concurrency.min(u16::MAX as usize) as u16).await?;
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone());
    info!(namespace = %args.servers.namespace, concurrency, "worker ready");
    let job_delay = std::time::Duration::from_millis(args.job_delay_ms);
    run_worker(
        backends,
        WorkerOptions {
            concurrency,
            job_delay,
        },
        shutdown,
    )
    .await;
    Ok(())
}
