//! Command-line options.

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Clone, Copy, PartialEq, Debug, ValueEnum)]
pub enum Scenario {
    /// GET /healthz closed loop: the HTTP stack's ceiling on this machine
    Healthz,
    /// Orders closed loop (each connection sends its next request once answered)
    Orders,
    /// Orders open loop at a fixed rate, latency from each request's scheduled send time
    Paced,
    /// Orders closed loop until --total orders exist, then the server's RSS
    Long,
    /// Fill to --scale-orders, then the closed and paced loops again on the large database,
    /// across several runs of the background jobs
    Scale,
    /// GitHub-signed deliveries of ~1 KiB to a provider source, closed loop (--orders of them)
    Sources,
    /// Many client IPs try logins of unknown accounts for --login-seconds while /healthz is
    /// polled and a real user logs in: the server's memory and responsiveness
    Login,
    /// Outbound deliveries to a sink in this program: orders/s without and with a destination,
    /// deliveries/s while ingesting and draining a --backlog, and at --paced-rate the time from
    /// the sender's 2xx to the sink receiving the delivery
    Deliveries,
}

/// hookgate load benchmark
#[derive(Parser, Debug, Clone)]
#[command(
    name = "load",
    override_usage = "cargo bench --bench load -- [OPTIONS]",
    // The last of a repeated option wins, as `--quick` and cargo's `--bench` may come twice.
    args_override_self = true,
    // So that `--concurrency -3` is refused as a number, not taken for an unknown option.
    allow_negative_numbers = true
)]
pub struct Options {
    /// Comma-separated subset of healthz,orders,paced,long,scale,sources,login,deliveries, run in
    /// this order (scale is long: about 5 GB and 10 minutes)
    #[arg(
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        action = ArgAction::Set,
        default_value = "healthz,orders,paced,long"
    )]
    pub scenarios: Vec<Scenario>,

    /// Connections for the closed loops
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = positive::<usize>)]
    pub concurrency: usize,

    /// Length of the /healthz run, in seconds
    #[arg(long, value_name = "S", default_value_t = 10, value_parser = positive::<u64>)]
    pub healthz_seconds: u64,

    /// Run /healthz for N requests instead of a duration
    #[arg(long, value_name = "N", value_parser = positive::<usize>)]
    pub healthz_requests: Option<usize>,

    /// Orders in the closed-loop scenario
    #[arg(long, value_name = "N", default_value_t = 200_000, value_parser = positive::<usize>)]
    pub orders: usize,

    /// Requests per second in the paced scenario
    #[arg(long, value_name = "R", default_value_t = 1_000, value_parser = positive::<u64>)]
    pub paced_rate: u64,

    /// Length of the paced scenario, in seconds
    #[arg(long, value_name = "S", default_value_t = 20, value_parser = positive::<u64>)]
    pub paced_seconds: u64,

    /// Connections the paced requests are spread over [default: --concurrency]
    #[arg(long, value_name = "N", value_parser = positive::<usize>)]
    pub paced_connections: Option<usize>,

    /// Orders stored in all before the final RSS reading
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = positive::<usize>)]
    pub total: usize,

    /// Orders signed at once in the long run (signatures must stay within the server's 5-minute
    /// timestamp tolerance)
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = positive::<usize>)]
    pub chunk: usize,

    /// Orders stored in all before the scale scenario's measurements
    #[arg(long, value_name = "N", default_value_t = 3_000_000, value_parser = positive::<usize>)]
    pub scale_orders: usize,

    /// Length of the scale scenario's paced run, in seconds (the jobs run every 30 s)
    #[arg(long, value_name = "S", default_value_t = 120, value_parser = positive::<u64>)]
    pub scale_seconds: u64,

    /// The server's --retention [default: the server's, 30d]. With `2m`, the scale scenario's
    /// measurements run while retention deletes the rows of its fill as fast as they came in
    #[arg(long, value_name = "DURATION")]
    pub server_retention: Option<String>,

    /// Client IPs of the login flood (127.0.0.2 onwards)
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u8).range(1..=250))]
    pub login_ips: u8,

    /// Length of the login flood, in seconds
    #[arg(long, value_name = "S", default_value_t = 60, value_parser = positive::<u64>)]
    pub login_seconds: u64,

    /// Deliveries scenario: orders ingested while the destination is disabled, then drained
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = positive::<usize>)]
    pub backlog: usize,

    /// Deliveries scenario: the longest wait for a backlog to arrive at the sink before it is
    /// reported as not drained (the run goes on)
    #[arg(long, value_name = "S", default_value_t = 60, value_parser = positive::<u64>)]
    pub drain_seconds: u64,

    /// Worker threads of the client's tokio runtime
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = positive::<usize>)]
    pub threads: usize,

    /// hookgate binary (the release build of this package)
    #[arg(long, value_name = "PATH", default_value = env!("CARGO_BIN_EXE_hookgate"))]
    pub bin: PathBuf,

    /// Keep the server's log there [default: a temporary file]
    #[arg(long, value_name = "PATH")]
    pub server_log: Option<PathBuf>,

    /// Small sizes for a smoke run: --healthz-seconds 2, --orders 5000, --paced-rate 500,
    /// --paced-seconds 3, --total 20000, --scale-orders 60000, --scale-seconds 5, --login-seconds 5,
    /// --backlog 5000, --drain-seconds 10, each unless given explicitly
    #[arg(long)]
    pub quick: bool,

    /// `cargo bench` passes --bench to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Options {
    /// The options of this process; prints help or a usage error and exits if asked to or if
    /// they are invalid.
    pub fn from_command_line() -> Options {
        let matches = Options::command().get_matches();
        let mut o = Options::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        if o.quick {
            o.apply_quick(&matches);
        }
        o
    }

    /// `--quick` changes the defaults only: an option given on the command line is kept.
    fn apply_quick(&mut self, matches: &ArgMatches) {
        let default = |id: &str| matches.value_source(id) == Some(ValueSource::DefaultValue);
        if default("healthz_seconds") {
            self.healthz_seconds = 2;
        }
        if default("orders") {
            self.orders = 5_000;
        }
        if default("paced_rate") {
            self.paced_rate = 500;
        }
        if default("paced_seconds") {
            self.paced_seconds = 3;
        }
        if default("total") {
            self.total = 20_000;
        }
        if default("scale_orders") {
            self.scale_orders = 60_000;
        }
        if default("scale_seconds") {
            self.scale_seconds = 5;
        }
        if default("login_seconds") {
            self.login_seconds = 5;
        }
        if default("backlog") {
            self.backlog = 5_000;
        }
        if default("drain_seconds") {
            self.drain_seconds = 10;
        }
    }
}

/// A whole number above zero.
fn positive<T: FromStr + PartialOrd + Default>(value: &str) -> Result<T, String> {
    value
        .parse()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| "needs a positive number".to_string())
}
