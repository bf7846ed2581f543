//! How long a rendered message is for each channel, and whether it fits.
//!
//! Korean carriers count an SMS or LMS in EUC-KR bytes (a Hangul syllable is 2, ASCII is 1); a
//! KakaoTalk business message (알림톡) counts characters. `encoding_rs`'s `EUC_KR` is the WHATWG
//! encoding, i.e. Windows-949 (UHC): every one of the 11,172 modern Hangul syllables is 2 bytes,
//! not only the 2,350 of KS X 1001.

use encoding_rs::EUC_KR;

/// An SMS carries at most this many EUC-KR bytes.
pub const SMS_MAX_BYTES: usize = 90;
/// An LMS (long message) carries at most this many EUC-KR bytes.
pub const LMS_MAX_BYTES: usize = 2_000;
/// An 알림톡 message carries at most this many characters (Unicode scalar values).
pub const ALIMTALK_MAX_CHARS: usize = 1_000;

/// A text longer than its channel carries. The unit is the channel's: EUC-KR bytes for SMS/LMS,
/// characters for 알림톡.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the text is {actual} long, over the channel's limit of {limit}")]
pub struct TooLong {
    pub limit: usize,
    pub actual: usize,
}

/// Which kind of text message a text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsKind {
    /// Up to [`SMS_MAX_BYTES`].
    Sms,
    /// Up to [`LMS_MAX_BYTES`].
    Lms,
}

impl SmsKind {
    /// The name providers use for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            SmsKind::Sms => "SMS",
            SmsKind::Lms => "LMS",
        }
    }
}

/// The length of `text` in EUC-KR bytes. A character EUC-KR cannot carry (an emoji, most Han
/// outside KS X 1001) counts as what `encoding_rs` emits for it, a numeric character reference
/// such as `&#128512;`: never fewer bytes than a carrier could need for it.
pub fn euc_kr_bytes(text: &str) -> usize {
    let (bytes, _, _) = EUC_KR.encode(text);
    bytes.len()
}

/// Whether `text` goes as an SMS or an LMS; over [`LMS_MAX_BYTES`] it cannot go at all.
pub fn sms_kind(text: &str) -> Result<SmsKind, TooLong> {
    match euc_kr_bytes(text) {
        n if n <= SMS_MAX_BYTES => Ok(SmsKind::Sms),
        n if n <= LMS_MAX_BYTES => Ok(SmsKind::Lms),
        actual => Err(TooLong {
            limit: LMS_MAX_BYTES,
            actual,
        }),
    }
}

/// Whether `text` fits one 알림톡 message.
pub fn fits_alimtalk(text: &str) -> Result<(), TooLong> {
    match text.chars().count() {
        n if n <= ALIMTALK_MAX_CHARS => Ok(()),
        actual => Err(TooLong {
            limit: ALIMTALK_MAX_CHARS,
            actual,
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn hangul(n: usize) -> String {
        "가".repeat(n)
    }

    #[test]
    fn exactly_ninety_bytes_is_an_sms_and_ninety_one_an_lms() {
        assert_eq!(sms_kind(&"a".repeat(90)), Ok(SmsKind::Sms));
        assert_eq!(sms_kind(&"a".repeat(91)), Ok(SmsKind::Lms));
    }

    #[test]
    fn forty_five_hangul_syllables_are_ninety_bytes_and_still_an_sms() {
        assert_eq!(euc_kr_bytes(&hangul(45)), 90);
        assert_eq!(sms_kind(&hangul(45)), Ok(SmsKind::Sms));
        assert_eq!(sms_kind(&format!("{}a", hangul(45))), Ok(SmsKind::Lms));
    }

    #[test]
    fn two_thousand_bytes_is_an_lms_and_one_more_is_too_long() {
        assert_eq!(sms_kind(&hangul(1_000)), Ok(SmsKind::Lms));
        assert_eq!(
            sms_kind(&format!("{}a", hangul(1_000))),
            Err(TooLong {
                limit: 2_000,
                actual: 2_001
            })
        );
    }

    #[test]
    fn a_thousand_characters_fit_an_alimtalk_and_one_more_does_not() {
        assert_eq!(fits_alimtalk(&hangul(1_000)), Ok(()));
        assert_eq!(
            fits_alimtalk(&hangul(1_001)),
            Err(TooLong {
                limit: 1_000,
                actual: 1_001
            })
        );
    }

    #[test]
    fn a_character_euc_kr_cannot_carry_counts_as_its_character_reference() {
        // U+1F600 is emitted as "&#128512;".
        assert_eq!(euc_kr_bytes("\u{1F600}"), 9);
        assert_eq!(euc_kr_bytes("가\u{1F600}a"), 12);
    }

    proptest! {
        #[test]
        fn ascii_text_is_one_byte_a_character(text in "[ -~\n]{0,300}") {
            prop_assert_eq!(euc_kr_bytes(&text), text.len());
        }

        #[test]
        fn hangul_syllables_are_two_bytes_each(
            syllables in proptest::collection::vec(0xAC00u32..=0xD7A3, 0..300)
        ) {
            let text: String = syllables.iter().map(|&c| char::from_u32(c).unwrap()).collect();
            prop_assert_eq!(euc_kr_bytes(&text), 2 * syllables.len());
        }
    }
}
