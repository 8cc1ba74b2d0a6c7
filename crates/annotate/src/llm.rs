//! A client of any OpenAI-compatible chat-completions endpoint (llama.cpp's server, vLLM,
//! Ollama, hosted APIs), with schema-constrained output where the server supports it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::retry::{Attempt, RetryError, RetryPolicy};
use crate::schema::Schema;

/// How the answer's format is constrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Structured {
    /// `json_schema`, falling back to `json_object` and then to none when the server
    /// rejects the request's `response_format`.
    Auto,
    /// `response_format: {type: json_schema}` (OpenAI, llama.cpp, vLLM, Ollama).
    JsonSchema,
    /// `response_format: {type: json_object}`: valid JSON, schema only in the prompt.
    JsonObject,
    /// No `response_format`: the schema is only in the prompt.
    None,
}

impl Structured {
    fn code(self) -> u8 {
        match self {
            Structured::Auto | Structured::JsonSchema => 0,
            Structured::JsonObject => 1,
            Structured::None => 2,
        }
    }

    fn of_code(c: u8) -> Structured {
        match c {
            0 => Structured::JsonSchema,
            1 => Structured::JsonObject,
            _ => Structured::None,
        }
    }
}

/// Tokens a request used, as the server reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// `system` or `user`.
    pub role: &'static str,
    /// The text.
    pub content: String,
}

/// A completed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The answer's text.
    pub content: String,
    /// Tokens used.
    pub usage: Usage,
    /// The server's `finish_reason` (`length` means the answer was cut at `max_tokens`).
    pub finish_reason: Option<String>,
    /// Attempts that failed transiently before this one succeeded.
    pub retries: u32,
}

/// Why a request failed (the server's or the configuration's fault, never the item's).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// Unreachable, timing out, overloaded or failing after all retries.
    #[error("the LLM server at {url} is unavailable: {message}")]
    Unavailable {
        /// The endpoint.
        url: String,
        /// The last failure.
        message: String,
    },
    /// The server refused the request in a way retrying cannot fix (authentication, unknown
    /// model, bad request).
    #[error("the LLM server at {url} refused the request (HTTP {status}): {message}")]
    Refused {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
}

/// Settings of the chat endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Base URL of the OpenAI-compatible API (`http://127.0.0.1:8080/v1`); a URL ending in
    /// `/chat/completions` is used as is.
    pub url: String,
    /// Model name sent with each request; empty: the first model the server lists.
    pub model: String,
    /// Bearer token, if the server needs one.
    pub api_key: Option<String>,
    /// Seconds before a request is abandoned (and retried).
    pub timeout_secs: f64,
    /// Output constraint.
    pub structured: Structured,
    /// Sampling temperature.
    pub temperature: f64,
    /// Most tokens per answer.
    pub max_tokens: u32,
    /// Sampling seed sent to the server (servers that support it are then repeatable).
    pub seed: Option<u64>,
    /// Retries on timeouts, connection failures, 429 and 5xx.
    pub retry: RetryPolicy,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            url: "http://127.0.0.1:8080/v1".into(),
            model: String::new(),
            api_key: None,
            timeout_secs: 300.0,
            structured: Structured::Auto,
            temperature: 0.2,
            max_tokens: 1024,
            seed: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// The request body (a struct, so that the schema keeps its key order).
#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    temperature: f64,
    max_tokens: u32,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Format<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Format<'a> {
    JsonSchema { json_schema: NamedSchema<'a> },
    JsonObject,
}

#[derive(Serialize)]
struct NamedSchema<'a> {
    name: &'static str,
    strict: bool,
    schema: &'a Schema,
}

/// The chat-completions client (shared by the worker threads).
pub struct ChatClient {
    endpoint: String,
    models: String,
    model: String,
    config: ServerConfig,
    agent: ureq::Agent,
    mode: AtomicU8,
    auto: bool,
}

fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn server_message(body: &str) -> String {
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.to_string());
    msg.chars().take(300).collect()
}

impl ChatClient {
    /// A client for `config` (no request is made).
    pub fn new(config: ServerConfig) -> ChatClient {
        let base = config.url.trim_end_matches('/');
        let (endpoint, models) = match base.strip_suffix("/chat/completions") {
            Some(root) => (base.to_string(), format!("{root}/models")),
            None => (format!("{base}/chat/completions"), format!("{base}/models")),
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(
                config.timeout_secs.max(0.001),
            )))
            .http_status_as_error(false)
            .user_agent("clamp3-annotate")
            .build()
            .into();
        ChatClient {
            endpoint,
            models,
            model: config.model.clone(),
            mode: AtomicU8::new(config.structured.code()),
            auto: config.structured == Structured::Auto,
            config,
            agent,
        }
    }

    /// The chat-completions URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The model requests name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The constraint now in use (after any `auto` fallback).
    pub fn structured(&self) -> Structured {
        Structured::of_code(self.mode.load(Ordering::Relaxed))
    }

    fn authorized<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.config.api_key {
            Some(k) => req.header("Authorization", &format!("Bearer {k}")),
            None => req,
        }
    }

    /// Waits for the server to answer `GET /models` (retrying while it starts or loads the
    /// model) and, when no model was configured, takes the first one it lists.
    pub fn connect(&mut self) -> Result<(), LlmError> {
        let url = self.models.clone();
        let body = self
            .config
            .retry
            .run(|_| -> Attempt<Option<String>> {
                let r = self
                    .authorized(self.agent.get(&url).header("Accept", "application/json"))
                    .call();
                match r {
                    Ok(mut resp) => {
                        let status = resp.status().as_u16();
                        let after = retry_after(&resp);
                        let text = resp.body_mut().read_to_string().unwrap_or_default();
                        match status {
                            200 => Attempt::Done(Some(text)),
                            // Not every compatible server lists models.
                            404 | 405 => Attempt::Done(None),
                            408 | 429 | 500..=599 => Attempt::Retry(
                                format!("HTTP {status}: {}", server_message(&text)),
                                after,
                            ),
                            s => Attempt::Fail(format!("HTTP {s}: {}", server_message(&text))),
                        }
                    }
                    Err(e) => Attempt::Retry(e.to_string(), None),
                }
            })
            .map_err(|e| LlmError::Unavailable {
                url: url.clone(),
                message: e.to_string(),
            })?;
        if self.model.is_empty() {
            let first = body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .and_then(|v| {
                    v.pointer("/data/0/id")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            self.model = first.ok_or_else(|| LlmError::Refused {
                url: url.clone(),
                status: 200,
                message: "no model was given and the server lists none".into(),
            })?;
        }
        Ok(())
    }

    fn request_body(&self, messages: &[Message], schema: &Schema, mode: Structured) -> String {
        let response_format = match mode {
            Structured::JsonSchema | Structured::Auto => Some(Format::JsonSchema {
                json_schema: NamedSchema {
                    name: "m4rag_annotation",
                    strict: true,
                    schema,
                },
            }),
            Structured::JsonObject => Some(Format::JsonObject),
            Structured::None => None,
        };
        let req = ChatRequest {
            model: &self.model,
            messages,
            temperature: self.config.temperature,
            max_tokens: self.config.max_tokens,
            stream: false,
            seed: self.config.seed,
            response_format,
        };
        serde_json::to_string(&req).unwrap_or_default()
    }

    /// Sends one chat request whose answer should follow `schema`, retrying transient
    /// failures. The answer's text is returned as is: validating it is the caller's job.
    pub fn complete(&self, messages: &[Message], schema: &Schema) -> Result<Completion, LlmError> {
        let mut retries = 0;
        let out = self
            .config
            .retry
            .run(|n| -> Attempt<Completion, (u16, String)> {
                retries = n;
                loop {
                    let mode = self.structured();
                    let payload = self.request_body(messages, schema, mode);
                    let req = self
                        .authorized(
                            self.agent
                                .post(&self.endpoint)
                                .header("Accept", "application/json"),
                        )
                        .header("Content-Type", "application/json");
                    let mut resp = match req.send(payload.as_bytes()) {
                        Ok(r) => r,
                        Err(e) => return Attempt::Retry(e.to_string(), None),
                    };
                    let status = resp.status().as_u16();
                    let after = retry_after(&resp);
                    let text = match resp
                        .body_mut()
                        .with_config()
                        .limit(64 << 20)
                        .read_to_string()
                    {
                        Ok(t) => t,
                        Err(e) => return Attempt::Retry(format!("reading the answer: {e}"), None),
                    };
                    match status {
                        200 => return parse_completion(&text),
                        408 | 429 | 500..=599 => {
                            return Attempt::Retry(
                                format!("HTTP {status}: {}", server_message(&text)),
                                after,
                            )
                        }
                        400 | 422
                            if self.auto && mode != Structured::None && mentions_format(&text) =>
                        {
                            // The server does not take this response_format: use the next weaker one.
                            let _ = self.mode.compare_exchange(
                                mode.code(),
                                mode.code() + 1,
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                            continue;
                        }
                        s => return Attempt::Fail((s, server_message(&text))),
                    }
                }
            });
        match out {
            Ok(mut c) => {
                c.retries = retries;
                Ok(c)
            }
            Err(RetryError::Failed((status, message))) => Err(LlmError::Refused {
                url: self.endpoint.clone(),
                status,
                message,
            }),
            Err(RetryError::Exhausted(message)) => Err(LlmError::Unavailable {
                url: self.endpoint.clone(),
                message,
            }),
        }
    }
}

fn mentions_format(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    b.contains("response_format") || b.contains("json_schema") || b.contains("schema")
}

/// Reads a chat-completions answer; a 200 that is not one is a server fault worth a retry.
fn parse_completion<E>(text: &str) -> Attempt<Completion, E> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Attempt::Retry(format!("the answer is not JSON: {e}"), None),
    };
    let choice = v.pointer("/choices/0");
    let content = choice
        .and_then(|c| c.pointer("/message/content"))
        .and_then(Value::as_str);
    let Some(content) = content else {
        return Attempt::Retry("the answer has no choices[0].message.content".into(), None);
    };
    let n = |k: &str| {
        v.pointer(&format!("/usage/{k}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Attempt::Done(Completion {
        content: content.to_string(),
        usage: Usage {
            prompt_tokens: n("prompt_tokens"),
            completion_tokens: n("completion_tokens"),
        },
        finish_reason: choice
            .and_then(|c| c.get("finish_reason"))
            .and_then(Value::as_str)
            .map(str::to_string),
        retries: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_base_or_full_url() {
        let c = ChatClient::new(ServerConfig {
            url: "http://h:1/v1/".into(),
            ..ServerConfig::default()
        });
        assert_eq!(c.endpoint(), "http://h:1/v1/chat/completions");
        assert_eq!(c.models, "http://h:1/v1/models");
        let c = ChatClient::new(ServerConfig {
            url: "http://h:1/api/chat/completions".into(),
            ..ServerConfig::default()
        });
        assert_eq!(c.endpoint(), "http://h:1/api/chat/completions");
        assert_eq!(c.models, "http://h:1/api/models");
    }

    #[test]
    fn completions_parse_and_malformed_ones_are_retried() {
        let ok = r#"{"choices":[{"message":{"role":"assistant","content":"{}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3}}"#;
        match parse_completion::<()>(ok) {
            Attempt::Done(c) => {
                assert_eq!(c.content, "{}");
                assert_eq!(
                    c.usage,
                    Usage {
                        prompt_tokens: 12,
                        completion_tokens: 3
                    }
                );
                assert_eq!(c.finish_reason.as_deref(), Some("stop"));
            }
            _ => panic!("not parsed"),
        }
        assert!(matches!(
            parse_completion::<()>("<html>"),
            Attempt::Retry(..)
        ));
        assert!(matches!(
            parse_completion::<()>(r#"{"choices":[]}"#),
            Attempt::Retry(..)
        ));
    }

    #[test]
    fn the_request_carries_the_schema_as_openai_specifies() {
        let c = ChatClient::new(ServerConfig {
            model: "m".into(),
            seed: Some(7),
            ..ServerConfig::default()
        });
        let schema = crate::schema::annotation_schema(&Default::default());
        let text = c.request_body(&[], &schema, Structured::JsonSchema);
        let b: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(
            b["response_format"]["json_schema"]["schema"],
            schema.to_value()
        );
        assert!(text.find("\"title\"").unwrap() < text.find("\"scene\"").unwrap());
        assert_eq!(b["seed"], 7);
        let b: Value =
            serde_json::from_str(&c.request_body(&[], &schema, Structured::None)).unwrap();
        assert!(b.get("response_format").is_none());
    }
}
