//! `lianming demo`: fictional providers, groups and participants, loaded through the same
//! services the API uses, so a newcomer sees a living site. All names are invented; the demo
//! accounts use the reserved `.invalid` domain and their emails are dropped from the outbox.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::accounts::service::create_user_cli;
use crate::auth::CurrentUser;
use crate::entities::{outbox, providers, users};
use crate::groups::dto::{Category, DemandInput, DemandKind, GroupCreate};
use crate::participation::dto::{JoinRequest, Money, SignatureInput};
use crate::providers::dto::{ProviderCreate, ProviderKind};
use crate::state::AppState;

const DEMO_DOMAIN: &str = "demo.lianming.invalid";

struct DemoGroup {
    provider: &'static str,
    title: &'static str,
    summary: &'static str,
    category: Category,
    demands: &'static [DemandKind],
    statement: &'static str,
    participants: usize,
    currency: &'static str,
}

const PROVIDERS: &[(&str, &str, &str, &[&str], ProviderKind)] = &[
    (
        "kuaipay",
        "快付钱包",
        "KuaiPay",
        &["快付", "KP钱包"],
        ProviderKind::DigitalWallet,
    ),
    (
        "cloudcash",
        "云闪钱",
        "CloudCash",
        &["云钱包"],
        ProviderKind::DigitalWallet,
    ),
    (
        "orangepay",
        "橙子支付",
        "OrangePay",
        &["橙付"],
        ProviderKind::PaymentProcessor,
    ),
    (
        "galaxy-bank",
        "星河银行",
        "Galaxy Bank",
        &["星河"],
        ProviderKind::Bank,
    ),
];

const GROUPS: &[DemoGroup] = &[
    DemoGroup {
        provider: "kuaipay",
        title: "快付钱包退款超过30天未到账",
        summary: "商家已同意退款，快付钱包显示“退款处理中”超过一个月，客服只回复“请耐心等待”。",
        category: Category::RefundDelay,
        demands: &[DemandKind::Refund, DemandKind::Compensation],
        statement: "我们是快付钱包的用户。商家同意退款后，款项长期停留在“处理中”。我们要求快付钱包在十五日内退回全部款项，并按日赔偿资金占用损失。",
        participants: 23,
        currency: "CNY",
    },
    DemoGroup {
        provider: "cloudcash",
        title: "云闪钱账户被盗刷，客服拒绝冻结",
        summary: "多名用户在凌晨收到陌生设备登录提醒后余额被转走，致电客服要求冻结账户却被告知“无法操作”。",
        category: Category::AccountSecurity,
        demands: &[
            DemandKind::Refund,
            DemandKind::ServiceFix,
            DemandKind::Apology,
        ],
        statement: "我们的云闪钱账户在未经授权的情况下被登录并转出资金。我们要求云闪钱核实盗刷交易、全额赔付损失，并改进异常登录的风控与冻结流程。",
        participants: 9,
        currency: "CNY",
    },
    DemoGroup {
        provider: "orangepay",
        title: "橙子支付提现手续费未经告知上调",
        summary: "橙子支付在未提前通知的情况下将提现手续费从0.1%上调至0.6%，用户在提现后才发现被多收费用。",
        category: Category::UnexpectedFees,
        demands: &[DemandKind::Refund, DemandKind::Apology],
        statement: "橙子支付未事先告知即上调提现手续费。我们要求退还多收取的手续费，并在今后调整收费前至少提前三十日通知用户。",
        participants: 6,
        currency: "CNY",
    },
];

fn demo_user(i: usize) -> (String, String) {
    const SURNAMES: &[&str] = &[
        "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
    ];
    const GIVEN: &[&str] = &[
        "小明", "丽华", "建国", "晓燕", "志强", "静怡", "海涛", "雪梅", "子轩", "欣然",
    ];
    let name = format!(
        "{}{}",
        SURNAMES[i % SURNAMES.len()],
        GIVEN[(i / SURNAMES.len() + i) % GIVEN.len()]
    );
    (format!("demo{i}@{DEMO_DOMAIN}"), name)
}

async fn user(
    state: &AppState,
    email: &str,
    name: &str,
    admin: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<CurrentUser> {
    let password = crate::domain::random_suffix(24);
    let id = create_user_cli(&state.db, email, name, password, admin, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let model = users::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user vanished"))?;
    Ok(model.into())
}

/// Loads the demo data once; a second run changes nothing.
///
/// # Errors
/// When the database refuses a write.
pub async fn load(state: &AppState) -> anyhow::Result<String> {
    let db: &DatabaseConnection = &state.db;
    if providers::Entity::find()
        .filter(providers::Column::Slug.eq(PROVIDERS[0].0))
        .one(db)
        .await?
        .is_some()
    {
        return Ok("demo data is already loaded".into());
    }
    let now = state.now();
    let curator = user(
        state,
        &format!("curator@{DEMO_DOMAIN}"),
        "示例管理员",
        true,
        now,
    )
    .await?;
    for (slug, zh, en, aliases, kind) in PROVIDERS {
        let req = ProviderCreate {
            slug: (*slug).into(),
            name_zh: (*zh).into(),
            name_en: Some((*en).into()),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            kind: *kind,
            website: None,
        };
        crate::providers::service::create(db, &curator, req, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut next_user = 0;
    let mut joined = 0;
    for (gi, g) in GROUPS.iter().enumerate() {
        let (email, name) = demo_user(next_user);
        next_user += 1;
        let owner = user(state, &email, &name, false, now).await?;
        let req = GroupCreate {
            provider: Some(g.provider.into()),
            provider_name: None,
            title: g.title.into(),
            summary: g.summary.into(),
            category: g.category,
            demands: g.demands.iter().map(|d| DemandInput::Kind(*d)).collect(),
            joint_statement: g.statement.into(),
            incident_from: Some((now - Duration::days(120)).date_naive()),
            incident_to: Some((now - Duration::days(3)).date_naive()),
            requires_moderation: false,
        };
        let group = state
            .write(async |txn| crate::groups::service::create(txn, &state.ctx, &owner, req).await)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for p in 0..g.participants {
            let (email, name) = demo_user(next_user);
            next_user += 1;
            let member = user(state, &email, &name, false, now).await?;
            let amount =
                i64::try_from((p * 7919 + gi * 104_729) % 500_000 + 1_000).unwrap_or(10_000);
            let req = JoinRequest {
                statement: format!(
                    "{}，本人于{}遇到同样的问题，多次联系客服未果。",
                    g.title,
                    (now - Duration::days(10 + i64::try_from(p).unwrap_or(0)))
                        .format("%Y年%m月%d日")
                ),
                amount_disputed: Money::from_stored(amount, g.currency),
                incident_date: (now - Duration::days(10 + i64::try_from(p).unwrap_or(0)))
                    .date_naive(),
                transaction_refs: vec![format!("DEMO{:04}{:04}", gi, p)],
                consent_share_identity: p % 3 != 0,
                consent_contact: p % 2 == 0,
                signature: SignatureInput {
                    full_name: name,
                    statement_version: 1,
                    agree: true,
                },
            };
            crate::participation::service::join(state, &member, &group.slug, req, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            joined += 1;
        }
    }
    // The invented accounts cannot receive mail.
    outbox::Entity::delete_many()
        .filter(outbox::Column::Recipient.ends_with(DEMO_DOMAIN))
        .exec(db)
        .await?;
    Ok(format!(
        "demo data loaded: {} providers, {} groups, {joined} participants (fictional accounts at {DEMO_DOMAIN})",
        PROVIDERS.len(),
        GROUPS.len()
    ))
}
