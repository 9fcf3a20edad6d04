//! Gives the responses hyper writes by itself a Twilio-shaped body.
//!
//! When a request cannot be parsed (a malformed request line, a URI over hyper's 64 KiB, too
//! many header bytes), hyper answers 400, 414 or 431 before any handler runs, with an empty
//! body, and closes the connection; a request body that stalls gets tower-http's empty 408. A
//! client should see `{code, message, more_info, status}` there too, so this wrapper around a
//! connection rewrites exactly those responses: a 4xx head with `content-length: 0` and no
//! `content-type`, written alone. Every handler's own response carries a content type.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose bodiless 4xx responses get an error body.
pub(crate) struct BareErrors<T> {
    inner: T,
    /// Rewritten bytes not yet written to `inner`.
    pending: Vec<u8>,
}

impl<T> BareErrors<T> {
    pub(crate) fn new(inner: T) -> Self {
        BareErrors {
            inner,
            pending: Vec::new(),
        }
    }
}

/// The message for a status hyper or a timeout produced.
fn message(status: u16) -> &'static str {
    match status {
        400 => "The request could not be parsed: its request line or headers are malformed",
        408 => "The request body did not arrive in time",
        414 => "The request URI is too long",
        431 => "The request headers are too large",
        _ => "The request could not be handled",
    }
}

/// The same response with a JSON error body, if `head` is a bare 4xx response head.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 4")?;
    if !text.ends_with("\r\n\r\n") || text.len() > 1024 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if !lower.contains("\r\ncontent-length: 0\r\n") || lower.contains("\r\ncontent-type:") {
        return None;
    }
    let status: u16 = format!("4{}", rest.get(..2)?).parse().ok()?;
    let body = serde_json::json!({
        "code": 20001,
        "message": message(status),
        "more_info": "https://www.twilio.com/docs/errors/20001",
        "status": status,
    })
    .to_string();
    let mut out = String::with_capacity(text.len() + body.len() + 48);
    for line in text.trim_end_matches("\r\n").split("\r\n") {
        if line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(&format!("content-length: {}\r\n", body.len()));
            out.push_str("content-type: application/json\r\n");
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

impl<T: AsyncWrite + Unpin> BareErrors<T> {
    /// Writes what is pending; ready once nothing is.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for BareErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for BareErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if let Some(replaced) = rewrite(buf) {
            // Taken whole; written out by this and later polls.
            this.pending = replaced;
            let _ = this.poll_drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_4xx_heads_are_rewritten() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(rewrite(bare).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains("date: x"));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], 414);
        assert_eq!(json["code"], 20001);
        assert!(head.contains(&format!("content-length: {}", body.len())));
        for kept in [
            &b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nmore",
        ] {
            assert_eq!(rewrite(kept), None);
        }
    }
}
