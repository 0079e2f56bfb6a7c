//! A small HTTP/1.1 server: persistent connections, `Content-Length` bodies, limits on the
//! head and the body, a fixed pool of threads (each serves one connection at a time), and a
//! graceful shutdown that lets every request in flight finish.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most bytes a request line and its headers may take.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The most bytes a request body may take.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a connection may sit idle between requests.
const IDLE: Duration = Duration::from_secs(60);
/// How often an idle connection looks at the shutdown flag.
const POLL: Duration = Duration::from_millis(250);
/// How long a request may take to arrive once its first byte has.
const ARRIVAL: Duration = Duration::from_secs(30);

/// One request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's `name=value` pairs, percent-decoded.
    pub query: Vec<(String, String)>,
    /// The headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers besides `Content-Length` and `Connection`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why no request could be read from a connection.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed it (or it idled out) between requests.
    Closed,
    /// The request is malformed or too large: answer `status` with `message`, then close.
    Bad(u16, &'static str),
}

/// What serves requests: called on the pool's threads.
pub type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A running server.
pub struct Running {
    address: SocketAddr,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    /// The address it listens on (its real port when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, lets every request in flight finish, closes idle connections, and
    /// waits for the threads.
    pub fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in &self.workers {
            // Wakes a thread blocked in accept; it sees the flag and exits.
            let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        }
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

/// Serves `handler` on `address` with `threads` threads until [`Running::shutdown`].
pub fn serve(address: &str, threads: usize, handler: Arc<Handler>) -> io::Result<Running> {
    let listener = Arc::new(TcpListener::bind(address)?);
    let address = listener.local_addr()?;
    let stopping = Arc::new(AtomicBool::new(false));
    let workers = (0..threads.max(1))
        .map(|i| {
            let (listener, stopping, handler) =
                (listener.clone(), stopping.clone(), handler.clone());
            std::thread::Builder::new()
                .name(format!("burnguard-serve-{i}"))
                .spawn(move || accept_loop(&listener, &stopping, &*handler))
        })
        .collect::<io::Result<Vec<_>>>()?;
    Ok(Running {
        address,
        stopping,
        workers,
    })
}

fn accept_loop(listener: &TcpListener, stopping: &AtomicBool, handler: &Handler) {
    while !stopping.load(Ordering::SeqCst) {
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let _ = serve_connection(stream, stopping, handler);
    }
}

/// Answers the requests of one connection until it closes, idles out, asks to close, sends
/// something malformed, or the server stops.
fn serve_connection(stream: TcpStream, stopping: &AtomicBool, handler: &Handler) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(8 * 1024, stream);
    loop {
        if !wait_for_data(&mut reader, stopping)? {
            break;
        }
        let (response, keep_alive) = match read_request(&mut reader) {
            Ok(request) => {
                let keep_alive = wants_keep_alive(&request);
                (handler(&request), keep_alive)
            }
            Err(ReadError::Closed) => break,
            Err(ReadError::Bad(status, message)) => (bad_request(status, message), false),
        };
        let keep_alive = keep_alive && !stopping.load(Ordering::SeqCst);
        write_response(&mut writer, &response, keep_alive)?;
        if !keep_alive {
            break;
        }
    }
    // Half-close, then read what the client still sends (a refused body, say) for a moment:
    // closing with unread bytes would reset the connection and lose the answer.
    let _ = writer.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 16 * 1024];
    let mut drained = 0usize;
    while Instant::now() < deadline && drained < 8 * MAX_BODY_BYTES {
        match reader.get_mut().read(&mut sink) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if waiting(&e) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// Waits until the connection has bytes to read (true), or closes, idles out or the server
/// stops (false).
fn wait_for_data(reader: &mut BufReader<TcpStream>, stopping: &AtomicBool) -> io::Result<bool> {
    let since = Instant::now();
    loop {
        match reader.fill_buf() {
            Ok([]) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(e) if waiting(&e) => {
                if stopping.load(Ordering::SeqCst) || since.elapsed() > IDLE {
                    return Ok(false);
                }
            }
            Err(_) => return Ok(false),
        }
    }
}

fn wants_keep_alive(request: &Request) -> bool {
    !request
        .header("connection")
        .is_some_and(|c| c.to_ascii_lowercase().contains("close"))
}

/// The response to a request that could not be read: the protocol's error body.
fn bad_request(status: u16, message: &str) -> Response {
    let body = serde_json::json!({
        "error": if status == 413 { "LIMIT_EXCEEDED" } else { "INVALID_REQUEST" },
        "message": message,
        "request_id": "req_unparsed",
    });
    Response {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// Reads one request (the connection has bytes waiting); a request that takes longer than
/// [`ARRIVAL`] to arrive closes the connection.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Request, ReadError> {
    let deadline = Instant::now() + ARRIVAL;
    let mut head = Vec::with_capacity(512);
    loop {
        let before = head.len();
        let read = read_line(reader, &mut head, deadline)?;
        if read == 0 {
            return if before == 0 {
                Err(ReadError::Closed)
            } else {
                Err(ReadError::Bad(400, "the request ended inside its headers"))
            };
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(ReadError::Bad(
                431,
                "the request line and headers exceed 16 KiB",
            ));
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") || (before == 0 && read <= 2) {
            if before == 0 {
                head.clear(); // a stray empty line between requests
                continue;
            }
            break;
        }
    }
    let text =
        std::str::from_utf8(&head).map_err(|_| ReadError::Bad(400, "the head is not UTF-8"))?;
    let mut lines = text.lines();
    let mut request = parse_request_line(lines.next().unwrap_or(""))?;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Bad(400, "a header line has no ':'"))?;
        request
            .headers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Bad(
            411,
            "send the body with a Content-Length, not chunked",
        ));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ReadError::Bad(400, "Content-Length must be a number"))?,
    };
    if length > MAX_BODY_BYTES {
        return Err(ReadError::Bad(413, "the body exceeds 1 MiB"));
    }
    request.body = vec![0; length];
    let mut filled = 0;
    while filled < length {
        match reader.read(&mut request.body[filled..]) {
            Ok(0) => {
                return Err(ReadError::Bad(
                    400,
                    "the body is shorter than its Content-Length",
                ))
            }
            Ok(n) => filled += n,
            Err(e) if waiting(&e) && Instant::now() < deadline => {}
            Err(_) => return Err(ReadError::Closed),
        }
    }
    Ok(request)
}

/// Whether `e` is a read timeout (or an interrupted read): the bytes may still come.
fn waiting(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Appends one line (through its `\n`) to `head`; 0 at the end of the stream.
fn read_line(
    reader: &mut BufReader<TcpStream>,
    head: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, ReadError> {
    let limit = (MAX_HEAD_BYTES + 1).saturating_sub(head.len()) as u64;
    let start = head.len();
    loop {
        match reader.by_ref().take(limit).read_until(b'\n', head) {
            Ok(_) => return Ok(head.len() - start),
            Err(e) if waiting(&e) && Instant::now() < deadline => {}
            Err(_) => return Err(ReadError::Closed),
        }
    }
}

fn parse_request_line(line: &str) -> Result<Request, ReadError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(
            400,
            "the request line must be METHOD TARGET HTTP/1.1",
        ));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(505, "only HTTP/1.x is served"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect();
    Ok(Request {
        method: method.to_string(),
        path: decode(path),
        query,
        ..Request::default()
    })
}

/// Percent-decodes `text` (`+` as a space); bytes that are not valid UTF-8 become U+FFFD.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Writes `response` in one buffer.
fn write_response(writer: &mut TcpStream, response: &Response, keep_alive: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + response.body.len());
    write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        response.status,
        reason(response.status),
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    )?;
    for (name, value) in &response.headers {
        write!(out, "{name}: {value}\r\n")?;
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&response.body);
    writer.write_all(&out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("tenant%3Aacme+x"), "tenant:acme x");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%e2%82%ac"), "€");
    }
}
