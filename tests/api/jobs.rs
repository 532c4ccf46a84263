//! Background jobs: a dossier build held by an instance that died is taken over once its lease
//! runs out; a job out of attempts is given up, its dossier marked failed, and shown to
//! administrators (only to them), who may run it again.

use std::time::{Duration, Instant};

use lianming::entities::enums::JobStatus;
use lianming::entities::jobs;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use lianming::clock::Clock as _;

use crate::helpers::app::{Backend, TestApp};
use crate::helpers::dossier::{download, fixture, python_verify, save_jwks, wait_built};
use crate::helpers::team::{expect_json, expect_problem, make_admin};
use crate::on_both_databases;

const KIND: &str = "dossier.build";

/// A server that runs no job runner of its own (the test starts one when it wants), building
/// every dossier in the background.
async fn app_without_runner(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.run_worker = false;
        s.dossier_inline_max = 0;
        s.job_poll_ms = 50;
        s.job_lease_secs = 60;
    })
    .await
}

/// The one build job (a ready build also queues its receipts' notices).
async fn only_job(app: &TestApp) -> jobs::Model {
    use sea_orm::{ColumnTrait as _, QueryFilter as _};
    let all = jobs::Entity::find()
        .filter(jobs::Column::Kind.eq(KIND))
        .all(&app.db)
        .await
        .expect("jobs");
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().expect("one job")
}

/// Claims the queued job as an instance named `who` would, for `lease`.
async fn claim_as(app: &TestApp, who: &str) -> lianming::jobs::Claimed {
    lianming::jobs::claim(
        &app.db,
        who,
        &[KIND],
        app.clock.now(),
        chrono::Duration::seconds(60),
        None,
    )
    .await
    .expect("claim")
    .expect("a due job")
}

async fn start_compile(app: &TestApp, token: &str, slug: &str) -> Value {
    let res = app
        .post(
            &format!("/groups/{slug}/dossiers"),
            Some(token),
            json!({"tier": "provider"}),
        )
        .await;
    expect_json(res, StatusCode::ACCEPTED).await
}

async fn status_of(app: &TestApp, token: &str, slug: &str, version: i64) -> Value {
    let res = app
        .get(&format!("/groups/{slug}/dossiers/{version}"), Some(token))
        .await;
    expect_json(res, StatusCode::OK).await
}

async fn wait_for_job(app: &TestApp, what: impl Fn(&jobs::Model) -> bool) -> jobs::Model {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = only_job(app).await;
        if what(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "job never got there: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_build_held_by_a_dead_instance_is_taken_over_once_its_lease_runs_out(backend: Backend) {
    let app = app_without_runner(backend).await;
    let f = fixture(&app).await;
    let token = f.owner.access_token.clone();
    assert_eq!(
        start_compile(&app, &token, &f.slug).await["status"],
        "building"
    );
    // An instance claims the build and dies without a word.
    let ghost = claim_as(&app, "ghost").await;
    assert_eq!(ghost.attempts, 1);

    let stop = CancellationToken::new();
    let runner =
        lianming::app::start_jobs(app.state.clone().into_inner(), stop.clone()).expect("runner");
    // While the ghost's lease holds, the live runner leaves the build alone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status_of(&app, &token, &f.slug, 1).await["status"],
        "building"
    );
    assert_eq!(only_job(&app).await.locked_by.as_deref(), Some("ghost"));

    app.clock.advance(chrono::Duration::seconds(61));
    let built = wait_built(&app, &f.owner, &f.slug, 1).await;
    assert_eq!(built["status"], "ready", "{built}");
    let job = wait_for_job(&app, |j| j.status == JobStatus::Done).await;
    assert_eq!(
        job.attempts, 2,
        "the ghost's attempt and the one that finished"
    );
    assert_eq!(job.locked_by, None);
    // The ghost, were it to wake up, can neither keep nor record the job.
    let until = app.clock.now() + chrono::Duration::seconds(60);
    assert!(
        !lianming::jobs::renew(&app.db, ghost.id, "ghost", until)
            .await
            .expect("renew")
    );
    let late = lianming::jobs::finish(
        &app.db,
        &ghost,
        "ghost",
        &lianming::jobs::Outcome::Failed("woke up".into()),
        app.clock.now(),
    )
    .await
    .expect("finish");
    assert_eq!(late, None);
    assert_eq!(only_job(&app).await.status, JobStatus::Done);

    // What the take-over built is a whole, valid bundle.
    let bundle = download(&app, Some(&token), &f.slug, 1, "bundle").await;
    let dir = tempfile::tempdir().expect("dir");
    let (ok, out) = python_verify(&bundle, &save_jwks(&app, dir.path()).await);
    assert!(ok, "{out}");
    stop.cancel();
    runner.await.expect("runner stops");
}

async fn a_build_out_of_attempts_is_given_up_and_shown_to_administrators_only(backend: Backend) {
    let app = app_without_runner(backend).await;
    let f = fixture(&app).await;
    let token = f.owner.access_token.clone();
    start_compile(&app, &token, &f.slug).await;
    // Three instances in a row take the build and die with it.
    for n in 1..=3 {
        let claimed = claim_as(&app, &format!("ghost-{n}")).await;
        assert_eq!(claimed.attempts, n);
        app.clock.advance(chrono::Duration::seconds(61));
    }
    let stop = CancellationToken::new();
    let runner =
        lianming::app::start_jobs(app.state.clone().into_inner(), stop.clone()).expect("runner");
    let built = wait_built(&app, &f.owner, &f.slug, 1).await;
    assert_eq!(built["status"], "failed", "{built}");
    let job = wait_for_job(&app, |j| j.status == JobStatus::Failed).await;
    assert!(
        job.last_error
            .as_deref()
            .is_some_and(|e| e.contains("interrupted")),
        "{job:?}"
    );
    // The group is free for a new version: the failed one keeps its number.
    let next = start_compile(&app, &token, &f.slug).await;
    assert_eq!(next["version"], 2);
    assert_eq!(
        wait_built(&app, &f.owner, &f.slug, 2).await["status"],
        "ready"
    );

    // Administrators see the failure with its error; no one else does.
    let path = "/admin/jobs?status=failed";
    expect_problem(
        app.get(path, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    expect_problem(
        app.get(path, Some(&token)).await,
        StatusCode::FORBIDDEN,
        "admin_only",
    )
    .await;
    make_admin(&app, &f.li).await;
    let mut admin = f.li.clone();
    crate::helpers::team::relogin(&app, &mut admin).await;
    let page = expect_json(
        app.get(path, Some(&admin.access_token)).await,
        StatusCode::OK,
    )
    .await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["kind"], KIND);
    assert_eq!(items[0]["status"], "failed");
    assert_eq!(items[0]["attempts"], 4);
    assert!(
        items[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("interrupted")),
        "{page}"
    );
    let bad = app
        .get("/admin/jobs?status=exploded", Some(&admin.access_token))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Run again: only a failed job, only by an administrator.
    let id = items[0]["id"].as_i64().expect("id");
    let retry = format!("/admin/jobs/{id}/retry");
    expect_problem(
        app.post(&retry, Some(&token), json!({})).await,
        StatusCode::FORBIDDEN,
        "admin_only",
    )
    .await;
    let again = expect_json(
        app.post(&retry, Some(&admin.access_token), json!({})).await,
        StatusCode::OK,
    )
    .await;
    // The runner may already have claimed it again when the answer reads the row back.
    assert!(
        again["attempts"].as_i64().is_some_and(|n| n <= 1),
        "{again}"
    );
    assert_ne!(again["status"], "failed", "{again}");
    let done = wait_for_job_id(&app, id, JobStatus::Done).await;
    assert_eq!(done.attempts, 1);
    // The given-up version stays failed: issued numbers are never rebuilt.
    assert_eq!(
        status_of(&app, &token, &f.slug, 1).await["status"],
        "failed"
    );
    expect_problem(
        app.post(&retry, Some(&admin.access_token), json!({})).await,
        StatusCode::CONFLICT,
        "not_failed",
    )
    .await;
    let missing = app
        .post(
            "/admin/jobs/999999/retry",
            Some(&admin.access_token),
            json!({}),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    stop.cancel();
    runner.await.expect("runner stops");
}

async fn wait_for_job_id(app: &TestApp, id: i64, status: JobStatus) -> jobs::Model {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = jobs::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .expect("job")
            .expect("exists");
        if job.status == status {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job never became {status:?}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_databases!(
    a_build_held_by_a_dead_instance_is_taken_over_once_its_lease_runs_out,
    a_build_out_of_attempts_is_given_up_and_shown_to_administrators_only,
);
