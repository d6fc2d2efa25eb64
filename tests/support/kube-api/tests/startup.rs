//! Start-up: the server answers its first request within 50 ms of being asked to start.

use kube_api::KubeApiServer;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn first_answer() -> Duration {
    let started = Instant::now();
    let server = KubeApiServer::start().await.expect("start");
    let mut stream = TcpStream::connect(server.address()).await.expect("connect");
    stream
        .write_all(b"GET /version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("response");
    let elapsed = started.elapsed();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    elapsed
}

#[tokio::test]
async fn the_server_answers_within_50_ms_of_start() {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        best = best.min(first_answer().await);
    }
    assert!(
        best < Duration::from_millis(50),
        "best of 5 start-ups took {best:?}"
    );
}
