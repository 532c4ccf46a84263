//! Readable slugs for proposed providers: the pinyin of a Chinese name, split into the brand
//! and the generic words after it (`快付钱包` → `kuaifu-qianbao`), ASCII words as they are
//! (`Quick Pay` → `quick-pay`).

use pinyin::ToPinyin;

use crate::domain::slugify;

/// Generic words that end many provider names, with their reading; each becomes a word of its
/// own so the brand before it reads apart (`zhaoshang-yinhang`, not `zhaoshangyinhang`). The
/// reading is given because the character table reads a polyphone its commonest way (`行` as
/// `xing`, where a bank is `yinhang`). Longest first, so `有限公司` wins over `公司`.
const GENERIC: &[(&str, &str)] = &[
    ("有限公司", "youxian-gongsi"),
    ("消费金融", "xiaofei-jinrong"),
    ("信用卡", "xinyongka"),
    ("钱包", "qianbao"),
    ("支付", "zhifu"),
    ("银行", "yinhang"),
    ("金融", "jinrong"),
    ("科技", "keji"),
    ("商城", "shangcheng"),
    ("保险", "baoxian"),
    ("证券", "zhengquan"),
    ("基金", "jijin"),
    ("集团", "jituan"),
    ("公司", "gongsi"),
    ("电商", "dianshang"),
    ("网络", "wangluo"),
    ("小贷", "xiaodai"),
    ("贷款", "daikuan"),
    ("理财", "licai"),
    ("信贷", "xindai"),
    ("出行", "chuxing"),
    ("外卖", "waimai"),
    ("快递", "kuaidi"),
    ("物流", "wuliu"),
    ("电信", "dianxin"),
    ("移动", "yidong"),
    ("联通", "liantong"),
];

/// The slug base for a provider named `name`: lower-case ASCII words and pinyin syllables joined
/// by `-`, at most `max` characters and cut at a word boundary; empty when nothing in the name
/// has a spelling (the caller then picks a fallback).
#[must_use]
pub fn provider_slug(name: &str, max: usize) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut run = String::new();
    let mut ascii = String::new();
    for c in name.chars() {
        if c.to_pinyin().is_some() {
            flush_ascii(&mut ascii, &mut words);
            run.push(c);
        } else {
            flush_han(&mut run, &mut words);
            ascii.push(c);
        }
    }
    flush_ascii(&mut ascii, &mut words);
    flush_han(&mut run, &mut words);
    let mut out = String::new();
    for w in words {
        let extra = if out.is_empty() { w.len() } else { w.len() + 1 };
        if out.len() + extra > max {
            // A single overlong word is cut rather than lost.
            if out.is_empty() {
                out = w.chars().take(max).collect();
            }
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&w);
    }
    out
}

fn flush_ascii(ascii: &mut String, words: &mut Vec<String>) {
    let s = slugify(ascii, usize::MAX);
    words.extend(s.split('-').filter(|w| !w.is_empty()).map(str::to_owned));
    ascii.clear();
}

/// A run of Chinese characters: generic words peeled off its end, the rest one brand word.
fn flush_han(run: &mut String, words: &mut Vec<String>) {
    let mut rest: &str = run;
    let mut tail: Vec<&str> = Vec::new();
    loop {
        let found = GENERIC.iter().find(|(g, _)| rest.ends_with(g));
        let Some((g, reading)) = found else { break };
        tail.push(reading);
        rest = &rest[..rest.len() - g.len()];
    }
    let brand: String = rest.to_pinyin().flatten().map(|p| p.plain()).collect();
    if !brand.is_empty() {
        words.push(brand);
    }
    for reading in tail.into_iter().rev() {
        words.extend(reading.split('-').map(str::to_owned));
    }
    run.clear();
}

/// `base`, or `base-2`, `base-3`, … : the first not in `taken`.
#[must_use]
pub fn first_free(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_owned();
    }
    (2u32..)
        .map(|n| format!("{base}-{n}"))
        .find(|s| !taken.iter().any(|t| t == s))
        .unwrap_or_else(|| base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_name_becomes_its_pinyin_with_the_generic_word_apart() {
        assert_eq!(provider_slug("快付钱包", 40), "kuaifu-qianbao");
        assert_eq!(
            provider_slug("招商银行信用卡", 40),
            "zhaoshang-yinhang-xinyongka"
        );
        assert_eq!(provider_slug("未验证支付", 40), "weiyanzheng-zhifu");
    }

    #[test]
    fn a_generic_word_alone_is_the_name() {
        assert_eq!(provider_slug("钱包", 40), "qianbao");
    }

    #[test]
    fn ascii_words_are_kept_and_mixed_names_keep_both() {
        assert_eq!(provider_slug("Quick Pay!!", 40), "quick-pay");
        assert_eq!(provider_slug("QQ钱包", 40), "qq-qianbao");
    }

    #[test]
    fn a_long_name_is_cut_at_a_word_and_a_name_without_spelling_is_empty() {
        let s = provider_slug("超级无敌快速便捷安全可靠好用方便实惠钱包", 20);
        assert!(s.len() <= 20, "{s}");
        assert_eq!(provider_slug("！？", 40), "");
    }

    #[test]
    fn a_taken_slug_gets_the_first_free_number() {
        let taken = ["kuaifu-qianbao".to_owned(), "kuaifu-qianbao-2".to_owned()];
        assert_eq!(first_free("kuaifu-qianbao", &taken), "kuaifu-qianbao-3");
        assert_eq!(first_free("other", &taken), "other");
    }
}
