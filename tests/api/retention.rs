//! Retention on the test clock: a closed group's participants are told 30 days before its
//! evidence is deleted; on the day the evidence goes (from the store too), the roster is
//! anonymised, counts stay, and the dossier issued before still verifies.

use std::time::{Duration, Instant};

use lianming::entities::enums::JobStatus;
use lianming::entities::{jobs, participations};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp};
use crate::helpers::dossier::{compile, download, fixture, python_verify, save_jwks};
use crate::helpers::team::{expect_json, mail_to, mails_to, relogin};
use crate::on_both_databases;

/// Runs the scheduler and waits for the retention sweep it queues for the day.
async fn daily_sweep(app: &TestApp) {
    lianming::notify::scheduler::tick(&app.state)
        .await
        .expect("tick");
    let key = format!(
        "retention.sweep:{}",
        lianming::clock::Clock::now(&app.clock).date_naive()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = jobs::Entity::find()
            .filter(jobs::Column::DedupeKey.eq(key.as_str()))
            .one(&app.db)
            .await
            .expect("job")
            .expect("the scheduler queued the day's sweep");
        if job.status == JobStatus::Done {
            return;
        }
        assert!(Instant::now() < deadline, "sweep not done: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn blob_files(app: &TestApp) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        if p.ends_with("tmp") { 0 } else { walk(&p) }
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    walk(&app.data_dir.path().join("blobs"))
}

async fn roster(app: &TestApp, token: &str, slug: &str) -> Value {
    expect_json(
        app.get(&format!("/groups/{slug}/roster"), Some(token))
            .await,
        StatusCode::OK,
    )
    .await
}

async fn a_closed_group_is_noticed_then_deleted_and_anonymised_and_its_dossier_still_verifies(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, |s| s.job_poll_ms = 50).await;
    let mut f = fixture(&app).await;
    let dossier = compile(&app, &f.owner, &f.slug, "provider").await;
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    assert!(blob_files(&app) > 0, "the fixture's evidence is stored");
    let res = app
        .post(
            &format!("/groups/{}/status", f.slug),
            Some(&f.owner.access_token),
            json!({"status": "closed", "outcome": "withdrawn"}),
        )
        .await;
    expect_json(res, StatusCode::OK).await;
    let count_before = expect_json(
        app.get(&format!("/groups/{}", f.slug), None).await,
        StatusCode::OK,
    )
    .await["participant_count"]
        .clone();

    let with_network = || async {
        participations::Entity::find()
            .filter(participations::Column::JoinNetwork.is_not_null())
            .count(&app.db)
            .await
            .expect("count")
    };
    assert_eq!(with_network().await, 3, "each join kept its client network");

    // 334 days later nothing has happened yet.
    app.clock.advance(chrono::Duration::days(334));
    daily_sweep(&app).await;
    app.outbox_sent().await;
    assert_eq!(mails_to(&app, &f.wang.email, "删除"), 0);

    // 30 days before the deletion each participant is told, once.
    app.clock.advance(chrono::Duration::days(1));
    daily_sweep(&app).await;
    let notice = mail_to(&app, &f.wang.email, "删除").await;
    let day = (lianming::clock::Clock::now(&app.clock) + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert!(notice.subject.contains(&day), "{}", notice.subject);
    mail_to(&app, &f.li.email, "删除").await;
    mail_to(&app, &f.zhao.email, "删除").await;
    app.clock.advance(chrono::Duration::days(1));
    daily_sweep(&app).await;
    app.outbox_sent().await;
    assert_eq!(
        mails_to(&app, &f.wang.email, "删除"),
        1,
        "one notice per participant"
    );
    assert_eq!(
        app.count_rows("evidence").await,
        3,
        "nothing deleted before the day"
    );

    // On the day: the evidence goes, from the store too, and the roster is anonymised.
    app.clock.advance(chrono::Duration::days(29));
    daily_sweep(&app).await;
    assert_eq!(app.count_rows("evidence").await, 0);
    assert_eq!(app.count_rows("interactions").await, 0);
    assert_eq!(blob_files(&app), 0, "no evidence file is left in the store");
    assert_eq!(
        with_network().await,
        0,
        "the joins' client networks are cleared"
    );
    relogin(&app, &mut f.owner).await;
    let token = f.owner.access_token.clone();
    let page = roster(&app, &token, &f.slug).await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    for (i, e) in items.iter().enumerate() {
        let name = format!("参与者 #{}", i + 1);
        assert_eq!(e["display_name"], name.as_str(), "{e}");
        assert_eq!(e["full_name"], name.as_str(), "{e}");
        assert_eq!(e["email"], "", "{e}");
        assert_eq!(e["transaction_refs"], json!([]), "{e}");
        assert_eq!(e["consent_contact"], false, "{e}");
        assert_eq!(e["evidence_count"], 0);
        assert_eq!(e["interaction_count"], 0);
    }
    let text = page.to_string();
    for secret in [
        "王芳",
        "李雷",
        "赵秘密",
        "wang.fang@example.com",
        "ANON-REF-7731",
        "CS-88",
    ] {
        assert!(!text.contains(secret), "{secret} in the anonymised roster");
    }
    // Counts stay.
    let group = expect_json(
        app.get(&format!("/groups/{}", f.slug), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(group["participant_count"], count_before);

    // The dossier issued before still downloads unchanged and verifies independently.
    let again = download(&app, Some(&token), &f.slug, 1, "bundle").await;
    assert_eq!(again, bundle);
    let v1 = expect_json(
        app.get(&format!("/groups/{}/dossiers/1", f.slug), Some(&token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v1["bundle_sha256"], dossier["bundle_sha256"]);
    let dir = tempfile::tempdir().expect("dir");
    let (ok, out) = python_verify(&again, &save_jwks(&app, dir.path()).await);
    assert!(ok, "{out}");

    // A later sweep finds nothing more to do.
    app.clock.advance(chrono::Duration::days(1));
    daily_sweep(&app).await;
    relogin(&app, &mut f.owner).await;
    assert_eq!(roster(&app, &f.owner.access_token, &f.slug).await, page);
}

on_both_databases!(
    a_closed_group_is_noticed_then_deleted_and_anonymised_and_its_dossier_still_verifies
);
