//! The released checkpoints on the Hugging Face hub, the local model cache, and downloading
//! with checksum verification. Nothing here runs unless asked: models otherwise load from a
//! local directory.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// The two released weight sets (docs/reference.md §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// SAAS: best for audio; the reference default.
    Saas,
    /// C2: best for symbolic music.
    C2,
}

impl Variant {
    /// Parses `saas` or `c2` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "saas" => Some(Variant::Saas),
            "c2" => Some(Variant::C2),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Saas => "saas",
            Variant::C2 => "c2",
        }
    }

    /// The checkpoint's file name in `sander-wood/clamp3`.
    pub fn weights_file(self) -> String {
        format!(
            "weights_clamp3_{}_h_size_768_t_model_FacebookAI_xlm-roberta-base_t_length_128_a_size_768_a_layers_12_a_length_128_s_size_768_s_layers_12_p_size_64_p_length_512.pth",
            self.name()
        )
    }

    /// Files of this variant: (URL, local file name).
    pub fn files(self) -> Vec<(String, String)> {
        let w = self.weights_file();
        let hub = hub_url();
        vec![
            (format!("{hub}/sander-wood/clamp3/resolve/main/{w}"), w),
            (
                format!("{hub}/FacebookAI/xlm-roberta-base/resolve/main/tokenizer.json"),
                "tokenizer.json".to_string(),
            ),
        ]
    }
}

/// The hub's base URL: `$CLAMP3_HUB_URL` (a mirror), else `https://huggingface.co`.
pub fn hub_url() -> String {
    std::env::var("CLAMP3_HUB_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('/').to_string())
        .unwrap_or_else(|| "https://huggingface.co".to_string())
}

/// The cache folder of downloaded models: `$CLAMP3_HOME`, else `$XDG_CACHE_HOME/clamp3`, else
/// `~/.cache/clamp3`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CLAMP3_HOME") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("clamp3");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache").join("clamp3"),
        None => PathBuf::from(".clamp3"),
    }
}

/// Folder of a variant in the cache.
pub fn variant_dir(v: Variant) -> PathBuf {
    cache_dir().join(v.name())
}

/// Folder of the MERT-v1-95M download in the cache.
pub fn mert_dir() -> PathBuf {
    cache_dir().join("mert")
}

/// Folder of the BLIP download in the cache.
pub fn blip_dir() -> PathBuf {
    cache_dir().join("blip")
}

/// `Salesforce/blip-image-captioning-base` files on the hub: (URL, local file name). BSD-3-Clause.
/// The main branch holds the weights as `pytorch_model.bin` (read without running pickle code).
pub fn blip_files() -> Vec<(String, String)> {
    let hub = hub_url();
    [
        "config.json",
        "pytorch_model.bin",
        "tokenizer.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
        "special_tokens_map.json",
        "vocab.txt",
    ]
    .iter()
    .map(|f| {
        (
            format!("{hub}/Salesforce/blip-image-captioning-base/resolve/main/{f}"),
            f.to_string(),
        )
    })
    .collect()
}

/// MERT-v1-95M files on the hub: (URL, local file name). Its weights are CC BY-NC 4.0.
pub fn mert_files() -> Vec<(String, String)> {
    let hub = hub_url();
    ["config.json", "pytorch_model.bin"]
        .iter()
        .map(|f| {
            (
                format!("{hub}/m-a-p/MERT-v1-95M/resolve/main/{f}"),
                f.to_string(),
            )
        })
        .collect()
}

/// Why a model name or path could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A released variant that is not in the download cache.
    #[error("model `{}` is not downloaded: {} has no {}", variant.name(), dir.display(), variant.weights_file())]
    NotDownloaded {
        /// The variant.
        variant: Variant,
        /// Its cache folder.
        dir: PathBuf,
    },
    /// Neither an existing path nor a variant name.
    #[error("model path {0} does not exist (nor is it a released variant: saas, c2)")]
    NoSuchModel(String),
}

/// Resolves a model argument: an existing path as is, else `saas`/`c2` to the cache folder
/// (which must hold the downloaded files).
pub fn resolve_model(arg: &str) -> Result<PathBuf, HubError> {
    let p = PathBuf::from(arg);
    if p.exists() {
        return Ok(p);
    }
    match Variant::parse(arg) {
        Some(v) => {
            let dir = variant_dir(v);
            if dir.join(v.weights_file()).is_file() {
                Ok(dir)
            } else {
                Err(HubError::NotDownloaded { variant: v, dir })
            }
        }
        None => Err(HubError::NoSuchModel(arg.to_string())),
    }
}

/// The folders where a companion model is looked for: `explicit` alone if given, else
/// `<model dir>/<sub>`, then `cache`.
fn candidates(
    explicit: Option<&Path>,
    model_dir: Option<&Path>,
    sub: &str,
    cache: PathBuf,
) -> Vec<PathBuf> {
    match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => model_dir
            .map(|d| d.join(sub))
            .into_iter()
            .chain(std::iter::once(cache))
            .collect(),
    }
}

/// Where MERT-v1-95M is: `explicit` if given, else `<model dir>/mert`, else the download cache
/// ([`mert_dir`]); the first that exists.
pub fn locate_mert(
    explicit: Option<&Path>,
    model_dir: Option<&Path>,
) -> Result<PathBuf, crate::Error> {
    let searched = candidates(explicit, model_dir, "mert", mert_dir());
    match searched.iter().find(|p| p.exists()) {
        Some(p) => Ok(p.clone()),
        None => Err(crate::Error::MertNotFound { searched }),
    }
}

/// Where BLIP is: `explicit` if given, else `<model dir>/blip`, else the download cache
/// ([`blip_dir`]); the first that exists.
pub fn locate_blip(
    explicit: Option<&Path>,
    model_dir: Option<&Path>,
) -> Result<PathBuf, crate::Error> {
    let searched = candidates(explicit, model_dir, "blip", blip_dir());
    match searched.iter().find(|p| p.exists()) {
        Some(p) => Ok(p.clone()),
        None => Err(crate::Error::BlipNotFound { searched }),
    }
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server could not be reached or answered with an error.
    #[error("cannot download {url} to {}: {msg}", dest.display())]
    Network {
        /// What was fetched.
        url: String,
        /// Where it should go.
        dest: PathBuf,
        /// The cause.
        msg: String,
    },
    /// The bytes do not match the hub's checksum.
    #[error("checksum mismatch for {url}: expected {expected}, got {got}")]
    Checksum {
        /// What was fetched.
        url: String,
        /// The hub's checksum.
        expected: String,
        /// The checksum of what arrived.
        got: String,
    },
    /// Writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Progress of one download: bytes so far and the total, when known.
pub trait Progress {
    /// A download starts.
    fn start(&mut self, name: &str, total: Option<u64>);
    /// More bytes arrived.
    fn advance(&mut self, bytes: u64);
    /// The download finished.
    fn finish(&mut self);
}

/// Downloads `url` to `dest` (through `dest.part`), verifying the checksum the hub publishes in
/// its `X-Linked-Etag`/`ETag` header: the SHA-256 of LFS files, the git blob SHA-1 of small
/// files. A download without a checksum to verify against is refused.
pub fn download(
    url: &str,
    dest: &Path,
    progress: &mut dyn Progress,
) -> Result<String, DownloadError> {
    let net = |msg: String| DownloadError::Network {
        url: url.to_string(),
        dest: dest.to_path_buf(),
        msg,
    };
    let io = |path: &Path, e: std::io::Error| DownloadError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut resp = agent.get(url).call().map_err(|e| net(e.to_string()))?;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|s| {
                s.trim_start_matches("W/")
                    .trim_matches('"')
                    .to_ascii_lowercase()
            })
    };
    let expected = header("x-linked-etag")
        .or_else(|| header("etag"))
        .filter(|e| (e.len() == 64 || e.len() == 40) && e.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| {
            net("the server sent no checksum (ETag) to verify the file against".into())
        })?;
    let total = header("x-linked-size")
        .or_else(|| header("content-length"))
        .and_then(|s| s.parse::<u64>().ok());
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    clamp3_util::fs::sweep_stale_temps(dir);
    let guard = clamp3_util::fs::TempGuard::new(dir.join(format!(
        "{}{name}.part{}",
        clamp3_util::fs::temp_prefix(),
        clamp3_util::fs::TEMP_SUFFIX
    )));
    let part = guard.path().to_path_buf();
    let mut file = std::fs::File::create(&part).map_err(|e| io(&part, e))?;
    let mut reader = resp.body_mut().as_reader();
    let mut sha256 = Sha256::new();
    let mut bytes = Vec::new();
    let git = expected.len() == 40;
    let mut buf = vec![0u8; 1 << 20];
    progress.start(&name, total);
    loop {
        let n = reader.read(&mut buf).map_err(|e| net(e.to_string()))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n]).map_err(|e| io(&part, e))?;
        sha256.update(&buf[..n]);
        if git {
            bytes.extend_from_slice(&buf[..n]);
        }
        progress.advance(n as u64);
    }
    progress.finish();
    file.sync_all().map_err(|e| io(&part, e))?;
    drop(file);
    let got = if git {
        git_blob_sha1(&bytes)
    } else {
        hex(&sha256.finalize())
    };
    if got != expected {
        return Err(DownloadError::Checksum {
            url: url.to_string(),
            expected,
            got,
        });
    }
    std::fs::rename(&part, dest).map_err(|e| io(dest, e))?;
    guard.keep();
    Ok(got)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The SHA-1 git gives a blob (`blob <len>\0<bytes>`), which the hub uses as the ETag of
/// files not stored in LFS.
fn git_blob_sha1(data: &[u8]) -> String {
    use sha1_smol::Sha1;
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", data.len()).as_bytes());
    h.update(data);
    h.digest().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_hash_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha1(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    /// Serves one HTTP response per connection: `body` with the given ETag.
    fn serve(body: Vec<u8>, etag: String, requests: usize) -> String {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Linked-Etag: \"{etag}\"\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(&body).unwrap();
            }
        });
        format!("http://{addr}/file.bin")
    }

    struct Count(u64);
    impl Progress for Count {
        fn start(&mut self, _: &str, _: Option<u64>) {}
        fn advance(&mut self, n: u64) {
            self.0 += n;
        }
        fn finish(&mut self) {}
    }

    #[test]
    fn download_verifies_the_published_checksum() {
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let sum = hex(&Sha256::digest(&body));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/model.pth");
        let url = serve(body.clone(), sum.clone(), 1);
        let mut c = Count(0);
        assert_eq!(download(&url, &dest, &mut c).unwrap(), sum);
        assert_eq!(std::fs::read(&dest).unwrap(), body);
        assert_eq!(c.0, body.len() as u64);

        // A corrupted transfer (wrong checksum) is rejected and leaves nothing behind.
        let other = dir.path().join("other.pth");
        let url = serve(body, "0".repeat(64), 1);
        let err = download(&url, &other, &mut Count(0)).unwrap_err();
        assert!(matches!(err, DownloadError::Checksum { .. }), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(!other.exists() && left.len() == 1, "{left:?}");
    }

    #[test]
    fn unreachable_hub_fails_fast_with_instructions() {
        // Nothing listens on this port: connection refused.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x.pth", listener.local_addr().unwrap());
        drop(listener);
        let dir = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        let err = download(&url, &dir.path().join("x.pth"), &mut Count(0))
            .unwrap_err()
            .to_string();
        assert!(t.elapsed() < Duration::from_secs(15));
        assert!(
            err.contains("x.pth") && err.contains("cannot download"),
            "{err}"
        );
    }

    #[test]
    fn variants_and_names() {
        assert_eq!(Variant::parse("SAAS"), Some(Variant::Saas));
        assert_eq!(Variant::parse("c2"), Some(Variant::C2));
        assert_eq!(Variant::parse("x"), None);
        assert!(Variant::C2
            .weights_file()
            .starts_with("weights_clamp3_c2_h_size_768"));
        assert!(resolve_model("definitely-not-a-model").is_err());
    }
}
