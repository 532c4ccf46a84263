//! `letter.pdf`, typeset with typst from a fixed template (`letter.typ`) and one JSON file of
//! data: user text is data, never markup. Chinese needs a CJK font: Debian's fonts-noto-cjk
//! (found under `/usr/share/fonts`) or the file or directory in `LIANMING_PDF_FONT`. Without
//! one the server warns at start-up and refuses to compile, rather than print empty boxes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context as _;
use serde::Serialize;
use typst::ecow::EcoVec;
use typst::foundations::Bytes;
use typst::introspection::{Location, Tag};
use typst::layout::{Frame, FrameItem, Point};
use typst::model::{Document as _, HeadingElem};
use typst::text::Font;
use typst_as_lib::TypstEngine;
use typst_layout::{Page, PagedDocument};

use super::assembly::Assembly;
use super::csv::{amount, demands_text, provider_text};
use super::dto::Tier;
use crate::groups::cells::merge_small_cells;
use crate::i18n::Locale;

const TEMPLATE: &str = include_str!("letter.typ");
/// The running header and the page footer ("第 N 页 / 共 M 页"), laid over the letter's pages.
const MARGINS: &str = include_str!("margins.typ");
/// Roster and evidence-index rows typeset in one pass at most. Each pass is laid out on its own
/// and typst's caches are dropped after it, so a 10,000-row roster costs ten passes of the
/// memory of one instead of one pass of ten times the memory.
const ROWS_PER_PASS: usize = 1_000;
const SYSTEM_FONT_DIR: &str = "/usr/share/fonts";

/// Font files found at start-up, loaded on first use.
#[derive(Debug, Clone)]
pub struct PdfFonts {
    paths: Vec<PathBuf>,
}

/// Loaded font faces and the family names to ask for, Simplified Chinese first.
#[derive(Debug)]
pub struct LoadedFonts {
    fonts: Vec<Font>,
    families: Vec<String>,
}

fn is_font_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "ttc" | "otf" | "ttf"))
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && depth < 6 {
            walk(&p, depth + 1, out);
        } else if is_font_file(&p) {
            out.push(p);
        }
    }
}

/// Preference of a system font file for CJK text; `None` for files of no use.
fn rank(p: &Path) -> Option<u8> {
    let name = p.file_name()?.to_str()?;
    let weight_ok = name.contains("Regular") || (name.contains("Bold") && !name.contains("Semi"));
    let rank = if name.starts_with("NotoSansCJK") && weight_ok {
        0
    } else if name.starts_with("NotoSerifCJK") && weight_ok {
        1
    } else if name.starts_with("wqy-") || name.starts_with("DroidSansFallback") {
        2
    } else {
        return None;
    };
    Some(rank)
}

impl PdfFonts {
    /// Finds CJK fonts: the configured file (or the font files of a configured directory), else
    /// Noto CJK (Sans before Serif, regular and bold), WenQuanYi or Droid under
    /// `/usr/share/fonts`.
    #[must_use]
    pub fn discover(configured: Option<&Path>) -> Self {
        let mut paths = Vec::new();
        match configured {
            Some(p) if p.is_dir() => walk(p, 0, &mut paths),
            Some(p) if p.is_file() => paths.push(p.to_path_buf()),
            Some(_) => {}
            None => {
                let mut found = Vec::new();
                walk(Path::new(SYSTEM_FONT_DIR), 0, &mut found);
                let best = found.iter().filter_map(|p| rank(p)).min();
                paths = found
                    .into_iter()
                    .filter(|p| rank(p) == best && best.is_some())
                    .collect();
            }
        }
        paths.sort();
        // Regular before Bold, so the regular face is the first of its family.
        paths.sort_by_key(|p| p.to_string_lossy().contains("Bold"));
        Self { paths }
    }

    /// Whether any font file was found.
    #[must_use]
    pub fn available(&self) -> bool {
        !self.paths.is_empty()
    }

    /// The files in use.
    #[must_use]
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Loads the faces once per process (reads the files; call from a blocking thread).
    ///
    /// # Errors
    /// When no file was found or none holds a usable face.
    pub fn load(&self) -> anyhow::Result<Arc<LoadedFonts>> {
        static CACHE: OnceLock<Mutex<HashMap<Vec<PathBuf>, Arc<LoadedFonts>>>> = OnceLock::new();
        anyhow::ensure!(self.available(), "no CJK font was found");
        let cache = CACHE.get_or_init(Default::default);
        if let Some(hit) = cache
            .lock()
            .map_err(|_| anyhow::anyhow!("font cache poisoned"))?
            .get(&self.paths)
        {
            return Ok(hit.clone());
        }
        let mut fonts = Vec::new();
        for path in &self.paths {
            let data =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            fonts.extend(Font::iter(Bytes::new(data)));
        }
        anyhow::ensure!(!fonts.is_empty(), "the font files hold no usable face");
        let mut families: Vec<String> = Vec::new();
        for f in &fonts {
            if !families.contains(&f.info().family) {
                families.push(f.info().family.clone());
            }
        }
        // Simplified Chinese glyph forms first; other faces stay as fallbacks.
        families.sort_by_key(|f| {
            (
                !(f.contains(" SC") || f.contains("Micro Hei") || f.contains("Zen Hei")),
                f.contains("Mono"),
            )
        });
        let loaded = Arc::new(LoadedFonts { fonts, families });
        cache
            .lock()
            .map_err(|_| anyhow::anyhow!("font cache poisoned"))?
            .insert(self.paths.clone(), loaded.clone());
        Ok(loaded)
    }
}

/// A label and value row of the figures table.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Label.
    pub label: String,
    /// Value.
    pub value: String,
}

/// The group as the letter shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupText {
    /// Title.
    pub title: String,
    /// Category label.
    pub category: String,
    /// Summary paragraphs.
    pub summary: Vec<String>,
}

/// The joint statement as the letter shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StatementText {
    /// "第 N 版 · SHA-256 …".
    pub line: String,
    /// Paragraphs.
    pub paragraphs: Vec<String>,
}

/// An evidence index row.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceRow {
    /// Path in the bundle.
    pub path: String,
    /// Kind label.
    pub kind: String,
    /// SHA-256.
    pub sha256: String,
}

/// Everything the template prints (serialised to `data.json`).
#[derive(Debug, Clone, Serialize)]
pub struct LetterData {
    /// Font families, filled in by [`render`].
    pub fonts: Vec<String>,
    /// PDF title.
    pub title: String,
    /// Running header of pages after the first.
    pub header_line: String,
    /// Place and date line.
    pub dateline: String,
    /// "第 N 版 · version N · tier".
    pub version_line: String,
    /// Addressee.
    pub addressee: String,
    /// Provider names.
    pub provider_line: String,
    /// "N 名参与者联名".
    pub complainants_line: String,
    /// Who compiled it.
    pub author_line: String,
    /// The group.
    pub group: GroupText,
    /// The statement.
    pub statement: StatementText,
    /// Demand lines.
    pub demands: Vec<String>,
    /// Closing paragraphs before "此致 敬礼".
    pub closing: Vec<String>,
    /// Who signs the letter.
    pub signoff: String,
    /// Figures table.
    pub figures: Vec<Figure>,
    /// Note above the roster.
    pub roster_note: String,
    /// Roster column headings.
    pub roster_columns: Vec<String>,
    /// Widths of all but the last roster column, in em.
    pub roster_widths: Vec<f64>,
    /// Roster rows (cells as text, as many as columns).
    #[serde(skip)]
    pub roster: Vec<Vec<String>>,
    /// Note above the evidence index.
    pub evidence_note: String,
    /// Evidence index.
    #[serde(skip)]
    pub evidence: Vec<EvidenceRow>,
    /// SHA-256 of manifest.json.
    pub manifest_sha256: String,
    /// The root of the Merkle tree over the signature records (hex).
    pub merkle_root: String,
    /// Verification page.
    pub verify_url: String,
    /// JWKS.
    pub jwks_url: String,
    /// How the letter itself is covered.
    pub verify_note: String,
    /// The trusted timestamp of the manifest, or that none was obtained.
    pub timestamp: String,
}

/// What one typesetting pass prints (serialised to `data.json`): the letter's fixed parts,
/// which sections this pass holds and its slice of the roster and of the evidence index.
#[derive(Debug, Serialize)]
struct Pass<'a> {
    #[serde(flatten)]
    letter: &'a LetterData,
    /// The letter itself, up to the roster (first pass).
    front: bool,
    /// The roster's heading, note and column headings (the pass with its first rows).
    roster_head: bool,
    roster: &'a [Vec<String>],
    /// The evidence index's heading (the pass with its first rows).
    evidence_head: bool,
    evidence: &'a [EvidenceRow],
    /// The verification box (last pass).
    verify: bool,
}

/// The passes of `data`: the letter and rows up to [`ROWS_PER_PASS`] per pass, roster first.
fn passes(data: &LetterData) -> Vec<Pass<'_>> {
    let mut passes: Vec<Pass<'_>> = Vec::new();
    let fresh = |front: bool| Pass {
        letter: data,
        front,
        roster_head: false,
        roster: &[],
        evidence_head: false,
        evidence: &[],
        verify: false,
    };
    let mut current = fresh(true);
    let mut room = ROWS_PER_PASS;
    let mut at = 0;
    // The roster's heading is printed even without rows.
    current.roster_head = true;
    while at < data.roster.len() {
        if room == 0 {
            passes.push(std::mem::replace(&mut current, fresh(false)));
            room = ROWS_PER_PASS;
        }
        let end = (at + room).min(data.roster.len());
        current.roster = &data.roster[at..end];
        room -= end - at;
        at = end;
    }
    at = 0;
    while at < data.evidence.len() {
        if room == 0 {
            passes.push(std::mem::replace(&mut current, fresh(false)));
            room = ROWS_PER_PASS;
        }
        let end = (at + room).min(data.evidence.len());
        current.evidence_head = at == 0;
        current.evidence = &data.evidence[at..end];
        room -= end - at;
        at = end;
    }
    current.verify = true;
    passes.push(current);
    passes
}

/// Typesets `template` with `data` as `data.json`.
fn typeset(
    fonts: &LoadedFonts,
    template: &'static str,
    data: &impl Serialize,
) -> anyhow::Result<PagedDocument> {
    let json = serde_json::to_vec(data)?;
    let engine = TypstEngine::builder()
        .main_file(("letter.typ", template))
        .fonts(fonts.fonts.iter().cloned())
        .with_static_file_resolver([("data.json", json)])
        .build();
    // The engine drops typst's memoised layouts after the compilation (`comemo::evict(0)`).
    let warned = engine.compile::<PagedDocument>();
    for w in &warned.warnings {
        tracing::debug!(warning = %w.message, "letter typesetting warning");
    }
    warned
        .output
        .map_err(|e| anyhow::anyhow!("typesetting the letter failed: {e}"))
}

/// Keeps in `frame` only the introspection tags the PDF needs — those of headings, its
/// bookmarks — and of those only the first pass's copy of a location (passes of one template
/// repeat locations; one document names each once); records the kept ones in `mine`. Every
/// other tag holds on to the element it marks, and through it to the pass's whole content:
/// kept, a pass's 1,000 rows stayed resident until the PDF was written (12 MiB a pass, most of
/// the 10,000-participant build's peak).
fn keep_heading_tags(frame: &mut Frame, earlier: &HashSet<Location>, mine: &mut HashSet<Location>) {
    frame.retain(|item| match item {
        FrameItem::Tag(Tag::Start(elem, _)) => {
            elem.is::<HeadingElem>()
                && elem
                    .location()
                    .is_some_and(|loc| !earlier.contains(&loc) && mine.insert(loc))
        }
        FrameItem::Tag(Tag::End(loc, ..)) => mine.contains(loc),
        FrameItem::Group(group) => {
            keep_heading_tags(&mut group.frame, earlier, mine);
            true
        }
        _ => true,
    });
}

/// Drops every introspection tag from `frame` (the margins' own counters).
fn drop_tags(frame: &mut Frame) {
    frame.retain(|item| match item {
        FrameItem::Tag(_) => false,
        FrameItem::Group(group) => {
            drop_tags(&mut group.frame);
            true
        }
        _ => true,
    });
}

/// Typesets the letter (CPU-bound; call from a blocking thread): the letter and its rows in
/// passes of at most [`ROWS_PER_PASS`] rows, their pages joined into one document, then the
/// running header and the page footer laid over every page once the page count is known.
///
/// # Errors
/// When the fonts cannot be loaded or typst fails.
pub fn render(fonts: &PdfFonts, mut data: LetterData) -> anyhow::Result<Vec<u8>> {
    let loaded = fonts.load()?;
    data.fonts.clone_from(&loaded.families);
    let mut pages: EcoVec<Page> = EcoVec::new();
    let mut info = None;
    let mut earlier: HashSet<Location> = HashSet::new();
    for pass in passes(&data) {
        let doc = typeset(&loaded, TEMPLATE, &pass)?;
        info.get_or_insert_with(|| doc.info().clone());
        let mut mine = HashSet::new();
        for page in doc.pages() {
            let mut page = page.clone();
            keep_heading_tags(&mut page.frame, &earlier, &mut mine);
            pages.push(page);
        }
        earlier.extend(mine);
    }
    let margins = typeset(
        &loaded,
        MARGINS,
        &serde_json::json!({
            "fonts": data.fonts,
            "header_line": data.header_line,
            "pages": pages.len(),
        }),
    )?;
    anyhow::ensure!(
        margins.pages().len() == pages.len(),
        "the margins have {} pages for a letter of {}",
        margins.pages().len(),
        pages.len()
    );
    for (page, over) in pages.make_mut().iter_mut().zip(margins.pages()) {
        let mut over = over.frame.clone();
        drop_tags(&mut over);
        page.frame.push_frame(Point::zero(), over);
    }
    let doc = PagedDocument::new(pages, info.unwrap_or_default());
    // Untagged: a tagged PDF of a 10,000-row roster is 17 times larger (20 MB against 1.2 MB);
    // the text stays extractable through the fonts' Unicode maps.
    let options = typst_pdf::PdfOptions {
        tagged: false,
        ..Default::default()
    };
    typst_pdf::pdf(&doc, &options).map_err(|e| {
        let msgs: Vec<String> = e.iter().map(|d| d.message.to_string()).collect();
        anyhow::anyhow!("writing the letter PDF failed: {}", msgs.join("; "))
    })
}

fn beijing(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d")
        .to_string()
}

fn paragraphs(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The label of an evidence kind.
#[must_use]
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "transaction_record" => "交易记录",
        "screenshot" => "截图",
        "chat_log" => "聊天记录",
        "call_record" => "通话记录",
        "receipt" => "收据",
        "correspondence" => "往来函件",
        _ => "其他",
    }
}

fn channel_label(channel: &str) -> &'static str {
    match channel {
        "hotline" => "客服热线",
        "online_chat" => "在线客服",
        "email" => "电子邮件",
        "in_app" => "应用内",
        "in_person" => "现场",
        _ => "其他",
    }
}

fn totals(a: &Assembly) -> String {
    let mut per: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for p in &a.participants {
        let e = per.entry(p.currency.as_str()).or_default();
        e.0 += p.amount_minor;
        e.1 += 1;
    }
    let cells: Vec<((&str, i64), i64)> = per
        .into_iter()
        .map(|(currency, (sum, n))| ((currency, sum), n))
        .collect();
    // The public version follows the small-cell rule of every public figure.
    let (shown, other) = if a.tier == Tier::Public {
        merge_small_cells(cells)
    } else {
        (cells, None)
    };
    let mut parts: Vec<String> = shown
        .into_iter()
        .map(|((currency, sum), n)| format!("{currency} {}（{n} 人）", amount(sum, currency)))
        .collect();
    if let Some(other) = other {
        parts.push(format!("其他币种（{other} 人）"));
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join("；")
    }
}

fn window(a: &Assembly) -> String {
    let from = a
        .group
        .incident_from
        .or_else(|| a.participants.iter().map(|p| p.incident_date).min());
    let to = a
        .group
        .incident_to
        .or_else(|| a.participants.iter().map(|p| p.incident_date).max());
    match (from, to) {
        (Some(f), Some(t)) if f == t => f.to_string(),
        (Some(f), Some(t)) => format!("{f} 至 {t}"),
        (Some(f), None) => format!("{f} 起"),
        (None, Some(t)) => format!("至 {t}"),
        (None, None) => "—".into(),
    }
}

fn contacts(a: &Assembly) -> String {
    let c = &a.contacts;
    if c.total == 0 {
        return "参与者未记录与客服的联系 (none logged)".into();
    }
    let channels: Vec<String> = c
        .by_channel
        .iter()
        .map(|(ch, n)| format!("{} {n} 次", channel_label(ch)))
        .collect();
    let span = match (c.first, c.last) {
        (Some(f), Some(l)) => format!("；{} 至 {}", day(f), day(l)),
        _ => String::new(),
    };
    format!(
        "共 {} 次，涉及 {} 名参与者{span}；{}",
        c.total,
        c.participants,
        channels.join("、")
    )
}

/// What the letter of `a` prints; `manifest_sha256` is the hash of its `manifest.json`,
/// `merkle_root` the root of the tree over its signature records.
#[must_use]
pub fn letter_data(a: &Assembly, manifest_sha256: &str, merkle_root: &str) -> LetterData {
    let public = a.tier == Tier::Public;
    let n = a.participants.len();
    let named = a.participants.iter().filter(|p| p.name.is_some()).count();
    let current = a
        .participants
        .iter()
        .filter(|p| p.signature.statement_version == a.statement.version)
        .count();
    let provider = provider_text(a);
    let version = a.dossier.version;
    let mut figures = vec![
        Figure {
            label: "参与人数 Participants".into(),
            value: if public {
                format!("{n} 人")
            } else {
                format!("{n} 人（其中 {named} 人同意公开姓名，其余以编号列出）")
            },
        },
        Figure {
            label: "签署情况 Signatures".into(),
            value: format!(
                "{current} 人签署第 {} 版声明；{} 人签署较早版本",
                a.statement.version,
                n - current
            ),
        },
        Figure {
            label: "争议金额合计 Disputed total".into(),
            value: totals(a),
        },
        Figure {
            label: "事发时间 Incident window".into(),
            value: window(a),
        },
        Figure {
            label: "联系客服 Contacts with customer service".into(),
            value: contacts(a),
        },
    ];
    if !public {
        let files: usize = a.participants.iter().map(|p| p.evidence.len()).sum();
        figures.push(Figure {
            label: "证据文件 Evidence files".into(),
            value: format!("{files} 个"),
        });
    }
    let (roster_columns, roster_widths, roster): (Vec<&str>, Vec<f64>, Vec<Vec<String>>) = if public
    {
        (
            vec!["编号 No.", "参与者 Participant", "签署时间 Signed"],
            vec![5.0, 16.0],
            a.participants
                .iter()
                .map(|p| vec![p.number.to_string(), p.label(), day(p.signature.signed_at)])
                .collect(),
        )
    } else {
        (
            vec![
                "编号 No.",
                "参与者 Participant",
                "事发日期 Date",
                "金额 Amount",
                "证据 Files",
                "签署时间 Signed",
            ],
            vec![5.0, 14.0, 8.0, 10.0, 5.0],
            a.participants
                .iter()
                .map(|p| {
                    vec![
                        p.number.to_string(),
                        p.label(),
                        p.incident_date.to_string(),
                        format!("{} {}", p.currency, amount(p.amount_minor, &p.currency)),
                        p.evidence.len().to_string(),
                        beijing(p.signature.signed_at),
                    ]
                })
                .collect(),
        )
    };
    let evidence = a
        .participants
        .iter()
        .flat_map(|p| p.evidence.iter())
        .map(|e| EvidenceRow {
            path: e.path.clone(),
            kind: kind_label(&e.kind).into(),
            sha256: e.sha256.clone(),
        })
        .collect();
    LetterData {
        fonts: Vec::new(),
        title: format!("联名投诉书 · {} · 第 {version} 版", a.group.title),
        header_line: format!("联名投诉书 · {} · 第 {version} 版", a.group.slug),
        dateline: format!("{}（北京时间）", beijing(a.dossier.created_at)),
        version_line: format!("第 {version} 版 · version {version} · {}", a.tier.as_str()),
        addressee: if a.tier == Tier::Provider {
            format!("{provider} {}", a.tier.recipient_zh())
        } else {
            a.tier.recipient_zh().into()
        },
        provider_line: provider,
        complainants_line: format!("{n} 名参与者联名 ({n} participants)"),
        author_line: match &a.author {
            Some(name) if !public => format!("{name}（组织者，经联名平台整理）"),
            _ => "组织者，经联名平台整理".into(),
        },
        group: GroupText {
            title: a.group.title.clone(),
            category: Locale::ZhCn.tk("page.category", a.group.category).into(),
            summary: paragraphs(&a.group.summary),
        },
        statement: StatementText {
            line: format!(
                "第 {} 版 · SHA-256 {}（全文见 statement.txt）",
                a.statement.version, a.statement.sha256
            ),
            paragraphs: paragraphs(&a.statement.joint_statement),
        },
        demands: demands_text(a),
        closing: vec![format!(
            "以上 {n} 名参与者均以本人名义签署了联合声明，并各自提交了事实陈述与证据。请贵方依法核查，\
             就上述诉求作出处理，并书面答复。"
        )],
        signoff: "全体联名参与者（名单见第五部分）".into(),
        figures,
        roster_note: if public {
            "公开版本：不含任何个人信息，参与者仅以编号列出。".into()
        } else {
            "未同意公开身份的参与者以“参与者 #编号”列出。时间为北京时间。".into()
        },
        roster_columns: roster_columns.into_iter().map(String::from).collect(),
        roster_widths,
        roster,
        evidence_note: "文件位于本卷宗压缩包中，其 SHA-256 亦列于 manifest.json。".into(),
        evidence,
        manifest_sha256: manifest_sha256.into(),
        merkle_root: merkle_root.into(),
        verify_url: format!("{}/verify", a.public_url),
        jwks_url: format!("{}/.well-known/jwks.json", a.public_url),
        verify_note: "本函件 letter.pdf 的 SHA-256 记录在 manifest.jws 的签名头部（因其印有 \
                      manifest 的哈希，无法列于 manifest 之内）。The SHA-256 of this letter is \
                      bound by the signed header of manifest.jws."
            .into(),
        timestamp: super::timestamp::letter_line(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rows: usize) -> LetterData {
        LetterData {
            fonts: Vec::new(),
            title: "联名投诉书".into(),
            header_line: "联名投诉书 · test · 第 1 版".into(),
            dateline: "2026-11-22 10:00（北京时间）".into(),
            version_line: "第 1 版 · version 1 · provider".into(),
            addressee: "快付钱包 投诉处理部门".into(),
            provider_line: "快付钱包 (QuickPay)".into(),
            complainants_line: format!("{rows} 名参与者联名"),
            author_line: "发起人".into(),
            group: GroupText {
                title: "退款迟迟未到账 #set text(red)".into(),
                category: "退款未到账".into(),
                summary: vec![
                    "申请退款后超过三十天仍未收到款项。".into(),
                    "$x^2$ *bold*".into(),
                ],
            },
            statement: StatementText {
                line: "第 1 版".into(),
                paragraphs: vec!["我们要求立即退款。".into()],
            },
            demands: vec!["退款".into(), "赔偿：按日支付利息".into()],
            closing: vec!["请依法处理。".into()],
            signoff: "全体联名参与者".into(),
            figures: vec![Figure {
                label: "参与人数 Participants".into(),
                value: format!("{rows} 人"),
            }],
            roster_note: "note".into(),
            roster_columns: vec!["编号".into(), "参与者".into()],
            roster_widths: vec![4.0],
            roster: (1..=rows)
                .map(|i| vec![i.to_string(), format!("参与者 #{i}")])
                .collect(),
            evidence_note: "note".into(),
            evidence: vec![EvidenceRow {
                path: "evidence/00001-0123456789abcdef.png".into(),
                kind: "截图".into(),
                sha256: "ab".repeat(32),
            }],
            manifest_sha256: "cd".repeat(32),
            merkle_root: "ef".repeat(32),
            verify_url: "http://127.0.0.1/verify".into(),
            jwks_url: "http://127.0.0.1/.well-known/jwks.json".into(),
            verify_note: "note".into(),
            timestamp: "可信时间戳：2026-12-04 10:00:00 UTC".into(),
        }
    }

    #[test]
    fn user_text_is_printed_as_text_never_run_as_markup() {
        let fonts = PdfFonts::discover(None);
        if !fonts.available() {
            eprintln!("no CJK font installed: letter test skipped");
            return;
        }
        let started = std::time::Instant::now();
        let pdf = render(&fonts, sample(3)).expect("render");
        eprintln!("letter: {} bytes in {:?}", pdf.len(), started.elapsed());
        assert!(pdf.starts_with(b"%PDF"));
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("letter.pdf");
        std::fs::write(&path, &pdf).expect("write");
        let Ok(out) = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
        else {
            eprintln!("pdftotext missing: text checks skipped");
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        for needle in [
            "快付钱包",
            "#set text(red)",
            "$x^2$ *bold*",
            "参与者 #3",
            &"cd".repeat(32),
            "第1页/共",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
    }

    #[test]
    fn rows_are_split_into_passes_roster_first_with_each_heading_once() {
        let mut data = sample(2_500);
        data.evidence = (0..700)
            .map(|i| EvidenceRow {
                path: format!("evidence/{i:05}.png"),
                kind: "截图".into(),
                sha256: "ab".repeat(32),
            })
            .collect();
        let p = passes(&data);
        let shape: Vec<(bool, bool, usize, bool, usize, bool)> = p
            .iter()
            .map(|p| {
                (
                    p.front,
                    p.roster_head,
                    p.roster.len(),
                    p.evidence_head,
                    p.evidence.len(),
                    p.verify,
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (true, true, 1_000, false, 0, false),
                (false, false, 1_000, false, 0, false),
                (false, false, 500, true, 500, false),
                (false, false, 0, false, 200, true),
            ]
        );
        assert_eq!(p[1].roster[0][0], "1001");
        // A short letter is one pass, as before.
        let short = sample(3);
        let p = passes(&short);
        assert_eq!(p.len(), 1);
        assert!(p[0].front && p[0].roster_head && p[0].evidence_head && p[0].verify);
    }

    #[test]
    fn a_letter_typeset_in_passes_numbers_its_pages_as_one() {
        let fonts = PdfFonts::discover(None);
        if !fonts.available() {
            eprintln!("no CJK font installed: letter test skipped");
            return;
        }
        let pdf = render(&fonts, sample(ROWS_PER_PASS * 2 + 10)).expect("render");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("letter.pdf");
        std::fs::write(&path, &pdf).expect("write");
        let (Ok(text), Ok(info)) = (
            std::process::Command::new("pdftotext")
                .arg(&path)
                .arg("-")
                .output(),
            std::process::Command::new("pdfinfo").arg(&path).output(),
        ) else {
            eprintln!("poppler-utils missing: text checks skipped");
            return;
        };
        let text = String::from_utf8_lossy(&text.stdout);
        let info = String::from_utf8_lossy(&info.stdout);
        let pages: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("page count");
        assert!(pages > 3, "{info}");
        let last = ROWS_PER_PASS * 2 + 10;
        for needle in [
            "参与者 #1\n".to_owned(),
            format!("参与者 #{}\n", ROWS_PER_PASS + 1),
            format!("参与者 #{last}\n"),
            "cd".repeat(32),
        ] {
            assert!(text.contains(&needle), "{needle:?} missing");
        }
        let flat: String = text.split_whitespace().collect();
        for n in [1, pages / 2, pages] {
            let footer = format!("第{n}页/共{pages}页");
            assert!(flat.contains(&footer), "{footer:?} missing");
        }
        assert_eq!(
            text.matches("五、参与者名单").count(),
            1,
            "one roster heading"
        );
        assert_eq!(text.matches("核验 How to verify").count(), 1);
        // The running header from the second page on, once per page.
        assert_eq!(
            text.matches("联名投诉书 · test · 第 1 版").count(),
            pages - 1
        );
    }
}
