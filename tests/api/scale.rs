//! The scaled set-up: several `lianming serve` processes on one PostgreSQL database with shared
//! secrets (one data directory, one public URL), driven at once. Runs when `TEST_DATABASE_URL`
//! is set.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use lianming::entities::enums::{DossierStatus, JobStatus};
use lianming::entities::{dossiers, jobs};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::dossier::{download, python_verify, save_jwks, upload};
use crate::helpers::instance::Instance;

/// The test's own server, which only prepares data (it runs no jobs and sends no mail), with
/// an organiser and their group's slug.
async fn preparing_server(backend: Backend) -> (TestApp, TestUser, String) {
    let app = TestApp::spawn_with(backend, |s| s.run_worker = false).await;
    let owner = app.verified_user("organiser@example.com", "陈发起").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    (app, owner, slug)
}

/// `n` verified, logged-in users, a few at a time (logins wait for the bounded hash pool).
async fn users(app: &TestApp, n: usize) -> Vec<TestUser> {
    let mut all = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(4) {
        all.extend(
            join_all(chunk.iter().map(|i| async move {
                let (email, name) = (format!("p{i}@example.com"), format!("参与者{i}"));
                app.verified_user(&email, &name).await
            }))
            .await,
        );
    }
    all
}

/// Evidence a build must read, deflate and hash: text that compresses poorly.
fn bulky_text(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if i % 80 == 79 {
                b'\n'
            } else {
                b'!' + u8::try_from((x >> 33) % 90).unwrap_or(0)
            }
        })
        .collect()
}

async fn job_of(app: &TestApp, dossier_id: i64) -> Option<jobs::Model> {
    jobs::Entity::find()
        .filter(jobs::Column::DedupeKey.eq(format!("dossier.build:{dossier_id}")))
        .one(&app.db)
        .await
        .expect("job")
}

async fn dossier(app: &TestApp, version: i32) -> dossiers::Model {
    dossiers::Entity::find()
        .filter(dossiers::Column::Version.eq(version))
        .one(&app.db)
        .await
        .expect("dossier")
        .expect("row")
}

async fn wait_until<T>(what: &str, secs: u64, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_joins_and_one_finishes_the_build_the_other_died_in() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres() else {
        eprintln!("TEST_DATABASE_URL unset: the scaled set-up is not tested");
        return;
    };
    let (app, owner, slug) = preparing_server(backend).await;
    let people = users(&app, 200).await;
    let a = Instance::start(&app, app.data_dir.path(), &[]);
    let b = Instance::start(&app, app.data_dir.path(), &[]);

    // 200 joins at once, split between the two instances: 200 on both.
    let joins = people.iter().enumerate().map(|(i, u)| {
        let (to, body) = (
            if i % 2 == 0 { &a } else { &b },
            TestApp::join_body(&format!("参与者{i}"), 1),
        );
        let (app, slug) = (&app, &slug);
        async move {
            let res = to
                .post(
                    app,
                    &format!("/groups/{slug}/participation"),
                    &u.access_token,
                    body,
                )
                .await;
            res.status()
        }
    });
    let statuses = join_all(joins).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    // Each instance caches the public view for at most a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(a.count(&app, &slug).await, 200);
    assert_eq!(b.count(&app, &slug).await, 200);

    // Evidence that makes the build take a while.
    for (i, u) in people.iter().take(2).enumerate() {
        upload(
            &app,
            u,
            &slug,
            bulky_text(i as u64, 8 * 1024 * 1024),
            "聊天记录.txt",
            "text/plain",
        )
        .await;
    }

    // A build requested on A runs on whichever instance claims it; that one is killed.
    let res = a
        .post(
            &app,
            &format!("/groups/{slug}/dossiers"),
            &owner.access_token,
            json!({"tier": "provider"}),
        )
        .await;
    let status = res.status();
    let body = json_body(res).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let v1 = dossier(&app, 1).await;
    let holder = wait_until("a build claimed", 30, async || {
        job_of(&app, v1.id)
            .await
            .filter(|j| j.status == JobStatus::Running)
    })
    .await;
    let (dead, survivor) = if holder
        .locked_by
        .as_deref()
        .is_some_and(|w| w.starts_with(&format!("pid{}-", a.pid())))
    {
        (a, b)
    } else {
        (b, a)
    };
    assert!(
        holder
            .locked_by
            .as_deref()
            .is_some_and(|w| w.starts_with(&format!("pid{}-", dead.pid()))),
        "{holder:?}"
    );
    let started = Instant::now();
    drop(dead); // SIGKILL
    assert_eq!(
        dossier(&app, 1).await.status,
        DossierStatus::Building,
        "the build was still running when its instance was killed"
    );
    // A third instance starting meanwhile (a restart) leaves the build alone.
    let c = Instance::start(&app, app.data_dir.path(), &[]);
    let done = wait_until("the other instance finishing the build", 180, async || {
        let d = dossier(&app, 1).await;
        (d.status != DossierStatus::Building).then_some(d)
    })
    .await;
    assert_eq!(done.status, DossierStatus::Ready, "{done:?}");
    eprintln!(
        "taken over and finished {:?} after the kill",
        started.elapsed()
    );
    // The job is marked done just after the row is ready (and the receipts' notices queued).
    let job = wait_until("the build job marked done", 30, async || {
        job_of(&app, v1.id)
            .await
            .filter(|j| j.status == JobStatus::Done)
    })
    .await;
    assert_eq!(job.attempts, 2, "{job:?}");

    let bundle = download(&app, Some(&owner.access_token), &slug, 1, "bundle").await;
    let dir = tempfile::tempdir().expect("dir");
    let (ok, out) = python_verify(&bundle, &save_jwks(&app, dir.path()).await);
    assert!(ok, "{out}");

    // The next version, requested on another instance, is number 2.
    let res = c
        .post(
            &app,
            &format!("/groups/{slug}/dossiers"),
            &owner.access_token,
            json!({"tier": "public"}),
        )
        .await;
    let v2 = json_body(res).await;
    assert_eq!(v2["version"], 2, "{v2}");
    let built = wait_until("version 2 built", 120, async || {
        let d = dossier(&app, 2).await;
        (d.status != DossierStatus::Building).then_some(d)
    })
    .await;
    assert_eq!(built.status, DossierStatus::Ready);
    assert_eq!(survivor.count(&app, &slug).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limits_that_protect_accounts_hold_across_two_instances() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres() else {
        eprintln!("TEST_DATABASE_URL unset: the scaled set-up is not tested");
        return;
    };
    let app = TestApp::spawn_with(backend, |s| {
        s.run_worker = false;
        s.login_failures_per_hour = 3;
        s.register_per_hour = 2;
    })
    .await;
    let b = Instance::start(
        &app,
        app.data_dir.path(),
        &[
            ("LIANMING_LOGIN_FAILURES_PER_HOUR", "3"),
            ("LIANMING_REGISTER_PER_HOUR", "2"),
        ],
    );
    let victim = app.verified_user("victim@example.com", "受害人").await;
    let wrong = json!({"email": victim.email, "password": "not the password at all"});
    let on_b = |path: &str, body: Value| {
        app.client
            .post(format!("{}/api/v1{path}", b.url))
            .json(&body)
            .send()
    };
    // Three failures, split between the instances, use up the account's hour.
    for res in [
        app.post("/auth/login", None, wrong.clone()).await,
        on_b("/auth/login", wrong.clone())
            .await
            .expect("login on B"),
        app.post("/auth/login", None, wrong.clone()).await,
    ] {
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // The next wrong password is refused on either: B saw only one failure itself.
    let res = on_b("/auth/login", wrong.clone())
        .await
        .expect("login on B");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let res = app.post("/auth/login", None, wrong.clone()).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // Registrations from one address: two per hour over both instances together.
    let reg = |i: usize| json!({"email": format!("new{i}@example.com"), "password": "a long enough password", "display_name": "新人"});
    assert_eq!(
        app.post("/auth/register", None, reg(1)).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        on_b("/auth/register", reg(2))
            .await
            .expect("register on B")
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        on_b("/auth/register", reg(3))
            .await
            .expect("register on B")
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.post("/auth/register", None, reg(4)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_due_while_two_instances_run_their_schedulers_are_each_received_once() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres() else {
        eprintln!("TEST_DATABASE_URL unset: the scaled set-up is not tested");
        return;
    };
    let (app, owner, slug) = preparing_server(backend).await;
    let people = users(&app, 20).await;
    for (i, u) in people.iter().enumerate() {
        let res = app
            .post(
                &format!("/groups/{slug}/participation"),
                Some(&u.access_token),
                TestApp::join_body(&format!("参与者{i}"), 1),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        // A daily digest due from midnight UTC: due now, whatever the hour.
        let res = app
            .send(
                reqwest::Method::PUT,
                "/me/notifications",
                Some(&u.access_token),
                Some(json!({"digest": "daily", "send_hour": 0, "time_zone": "UTC"})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&owner.access_token),
            json!({"kind": "acknowledgement", "title": "平台已受理", "body": "平台已受理投诉。"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Both instances tick their schedulers every 100 ms and send mail.
    let ticking = [
        ("LIANMING_SCHEDULER_TICK_MS", "100"),
        ("LIANMING_OUTBOX_POLL_MS", "50"),
    ];
    let _a = Instance::start(&app, app.data_dir.path(), &ticking);
    let _b = Instance::start(&app, app.data_dir.path(), &ticking);
    let is_digest = |m: &crate::helpers::smtp::ReceivedMail| m.subject.contains("每日进展");
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.mail.messages().iter().filter(|m| is_digest(m)).count() < people.len() {
        assert!(
            Instant::now() < deadline,
            "digests still missing after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Many more ticks on both: still one each.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The people's digests: the organiser's own daily digest is due too between 09:00 and
    // midnight in Shanghai (their default settings), and is not what is counted here.
    let digests: Vec<_> = app
        .mail
        .messages()
        .into_iter()
        .filter(|m| {
            is_digest(m)
                && people.iter().any(|u| {
                    m.envelope_to
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(&u.email))
                })
        })
        .collect();
    for u in &people {
        let mine = digests
            .iter()
            .filter(|m| {
                m.envelope_to
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(&u.email))
            })
            .count();
        assert_eq!(mine, 1, "{} got {mine} digests", u.email);
    }
    let mut ids: Vec<String> = digests
        .iter()
        .map(|m| m.message_id.clone().expect("Message-ID"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        people.len(),
        "every digest has its own Message-ID"
    );
    // The passes ran as jobs, one per period over both instances, none failed.
    let ticks = jobs::Entity::find()
        .filter(jobs::Column::Kind.eq("scheduler.tick"))
        .all(&app.db)
        .await
        .expect("ticks");
    assert!(
        ticks.iter().any(|j| j.status == JobStatus::Done),
        "{ticks:?}"
    );
    assert!(
        ticks.iter().all(|j| j.status != JobStatus::Failed),
        "{ticks:?}"
    );
}
