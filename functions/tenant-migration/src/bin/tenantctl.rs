//! `tenantctl`, the operators' command line (see `tenant_migration::cli`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tenant_migration::cli::main().await
}
