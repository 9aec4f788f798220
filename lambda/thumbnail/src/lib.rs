//! Previews of uploaded images: decoded under hard limits (input bytes, pixel dimensions,
//! allocation), so a decompression bomb — a small file that claims a huge image — is refused
//! before any pixel is allocated, then scaled to fit `EDGE`×`EDGE` and encoded as JPEG.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// The longest side of a preview, in pixels.
pub const EDGE: u32 = 320;
/// The largest input read (the upload limit's default).
pub const MAX_INPUT_BYTES: usize = 25 * 1024 * 1024;
/// The largest image decoded, per side, and in total pixels.
pub const MAX_SIDE: u32 = 8192;
pub const MAX_PIXELS: u64 = 40_000_000;
/// What the decoder may allocate.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// The preview's type.
pub const CONTENT_TYPE: &str = "image/jpeg";

#[derive(Debug, PartialEq, Eq)]
pub struct Preview {
    /// The original's size in pixels.
    pub width: u32,
    pub height: u32,
    /// The JPEG.
    pub bytes: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    TooLarge,
    /// Dimensions past the limits (a decompression bomb looks like this).
    TooManyPixels {
        width: u32,
        height: u32,
    },
    NotAnImage(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge => write!(f, "input larger than {MAX_INPUT_BYTES} bytes"),
            Self::TooManyPixels { width, height } => write!(f, "{width}×{height} is past the decoding limits"),
            Self::NotAnImage(e) => write!(f, "not a decodable image: {e}"),
        }
    }
}

/// PNG and JPEG only: GIF and WebP uploads are accepted as files, without a preview (their
/// decoders would grow the zip past its 4 MB goal).
fn format_of(content_type: &str) -> Option<ImageFormat> {
    match content_type {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        _ => None,
    }
}

/// Whether a file of this type gets a preview.
pub fn handles(content_type: &str) -> bool {
    format_of(content_type).is_some()
}

/// The preview of `bytes`, declared as `content_type` (the declared format is the only one
/// tried: no sniffing into another decoder).
pub fn preview(bytes: &[u8], content_type: &str) -> Result<Preview, Refused> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Refused::TooLarge);
    }
    let format = format_of(content_type).ok_or_else(|| Refused::NotAnImage(content_type.to_owned()))?;
    let not_image = |e: image::ImageError| Refused::NotAnImage(e.to_string());
    // The header alone first: dimensions are checked before anything is decoded.
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(not_image)?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refused::TooManyPixels { width, height });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(not_image)?;
    let small = image.thumbnail(EDGE, EDGE).to_rgb8();
    let mut out = Cursor::new(Vec::new());
    small.write_to(&mut out, ImageFormat::Jpeg).map_err(not_image)?;
    Ok(Preview { width, height, bytes: out.into_inner() })
}

/// The upload id of an object key `uploads/<id>` (`upl_` and a ULID, as `chat::ids::UploadId`).
pub fn upload_of(key: &str) -> Option<&str> {
    let id = key.strip_prefix("uploads/")?;
    let ulid = id.strip_prefix("upl_")?;
    (ulid.len() == 26 && ulid.chars().all(|c| c.is_ascii_alphanumeric())).then_some(id)
}

/// The preview's object key (`chat::uploads::thumbnail_key`).
pub fn thumbnail_key(upload_id: &str) -> String {
    format!("thumbs/{upload_id}")
}

/// The upload record's key (`chat::repo::keys::upload`).
pub fn record_key(upload_id: &str) -> (String, String) {
    (format!("UPLOAD#{upload_id}"), "UPLOAD".to_owned())
}

/// The tag of an object not attached yet (`chat::attachments::PENDING_TAG`).
pub const PENDING_TAG: &str = "pending=true";

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("encodes");
        out.into_inner()
    }

    #[test]
    fn a_small_png_gets_a_jpeg_preview_that_fits_the_edge_and_keeps_its_size() {
        let p = preview(&png(640, 480), "image/png").expect("a preview");
        assert_eq!((p.width, p.height), (640, 480));
        let back = image::load_from_memory_with_format(&p.bytes, ImageFormat::Jpeg).expect("a JPEG");
        assert_eq!((back.width(), back.height()), (320, 240));
    }

    #[test]
    fn a_jpeg_gets_a_preview_too() {
        let img = image::RgbImage::from_pixel(100, 50, image::Rgb([10, 200, 30]));
        let mut jpeg = Cursor::new(Vec::new());
        img.write_to(&mut jpeg, ImageFormat::Jpeg).expect("encodes");
        let p = preview(&jpeg.into_inner(), "image/jpeg").expect("a preview");
        assert_eq!((p.width, p.height), (100, 50));
    }

    /// A valid PNG header claiming 100 000 × 100 000 pixels in a few bytes: refused from its
    /// header, nothing decoded.
    #[test]
    fn a_decompression_bomb_is_refused_before_it_is_decoded() {
        let mut bomb = png(1, 1);
        // IHDR's width and height are bytes 16..24; its CRC (29..33) must then match.
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(preview(&bomb, "image/png"), Err(Refused::TooManyPixels { width: 100_000, height: 100_000 }));
    }

    #[test]
    fn bytes_that_are_not_the_declared_image_are_refused() {
        assert!(matches!(preview(b"%PDF-1.7 not an image", "image/png"), Err(Refused::NotAnImage(_))));
        assert!(matches!(preview(&png(2, 2), "application/pdf"), Err(Refused::NotAnImage(_))));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in data {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
