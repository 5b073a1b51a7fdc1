// serve: the model loaded once, answering HTTP until SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "base/error.h"
#include "base/human_units.h"
#include "command_registry.h"
#include "commands.h"
#include "model/model_loader.h"
#include "option_table.h"
#include "run/session.h"
#include "serve/server.h"
#include "settings.h"
#include "signals.h"

namespace resnet_cli::cli {

namespace {

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 &&
         IN6_IS_ADDR_LOOPBACK(&v6);
}

// Every connection is a descriptor: as many as the hard limit allows, so
// that --max-connections and not the soft limit (often 1024) decides.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Every thread of the server allocates from one glibc arena. glibc keeps
// what a thread frees in that thread's arena for its next allocations (main
// and the model loader keep freed blocks under 32 MiB in the heap so that
// forward passes reuse their buffers): with an arena per thread, a decode
// on each of the worker threads would leave its buffers resident in its own
// arena, and the process would hold the sum of every arena's peak. One arena
// holds at most the server's peak of what it uses at once, which
// --body-memory and --decode-memory bound (Server::memory_bound).
// GLIBC_TUNABLES still decides when it sets glibc.malloc.arena_max.
void allocate_from_one_arena() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.arena_max")) return;
  ::mallopt(M_ARENA_MAX, 1);
}

}  // namespace

ExitCode run_serve(const ServeSettings& settings) {
  // Before any thread starts, so that every thread leaves the signals to
  // the one that waits for them, and allocates from the one arena.
  StopSignals signals;
  allocate_from_one_arena();
  start_loading_model_module();
  raise_descriptor_limit();
  ServerOptions options = settings.server;
  if (!is_loopback(options.host) && options.api_key.empty()) {
    spdlog::warn(
        "listening on {} without --api-key: anyone who can reach it can use "
        "the model",
        options.host);
  }
  const Session session(settings);
  options.plan = session.plan(false);
  if (settings.access_log) {
    options.access_log = [](const std::string& line) {
      spdlog::info("{}", line);
    };
  }
  Server server(session, options);
  // A signal since StopSignals blocked them waits, pending, for this; stop()
  // before run() makes run() answer what is waiting and return.
  signals.on_signal([&server] { server.stop(); });
  const MemoryBound bound = server.memory_bound();
  spdlog::info(
      "memory beyond the idle server's: at most {} (bodies {}, decodes {}, "
      "connections {}, queue {})",
      format_bytes(bound.total()), format_bytes(bound.bodies),
      format_bytes(bound.decodes), format_bytes(bound.connections),
      format_bytes(bound.queue));
  // Not a result, so stderr; scripts that asked for --port 0 read the port
  // here.
  std::cerr << "resnet-cli: serving " << server.model_name() << " at http://"
            << options.host << ":" << server.port() << "/\n"
            << std::flush;
  server.run();
  spdlog::info("stopped: every request received was answered");
  return kExitOk;
}

namespace {

ServeSettings serve_settings(const OptionValues& values, int verbosity) {
  ServeSettings serve;
  fill_session(serve, values, verbosity);
  ServerOptions& server = serve.server;
  server.host = values.host;
  server.port = values.port;
  server.api_key = values.api_key;
  server.max_body = static_cast<std::size_t>(values.max_body);
  server.max_batch_delay_ms = values.max_batch_delay_ms;
  server.max_connections = values.max_connections;
  server.max_client_connections = values.max_client_connections;
  server.max_queue = values.max_queue;
  server.header_timeout_s = values.header_timeout_s;
  server.request_timeout_s = values.request_timeout_s;
  server.body_memory = static_cast<std::size_t>(values.body_memory);
  server.decode_memory = static_cast<std::size_t>(values.decode_memory);
  server.idle_timeout_s = values.idle_timeout_s;
  server.topk = values.topk;
  if (!values.model_dir.empty()) {
    // A trained folder is served under its own name, as TorchServe serves a
    // model archive under the archive's.
    std::filesystem::path folder =
        std::filesystem::absolute(values.model_dir).lexically_normal();
    if (!folder.has_filename()) folder = folder.parent_path();  // "dir/"
    server.model_name = folder.filename().string();
  }
  server.decode = decode_options(values);
  serve.access_log = verbosity >= 1;
  return serve;
}

}  // namespace

const CommandSpec kServeCommand{
    Command::kServe,
    "serve",
    "Keep the model loaded and answer HTTP: TorchServe's /predictions/{name}, "
    "/v1/classify (classify's record), /metrics",
    kOnServe,
    nullptr,
    [](Settings& settings, const OptionValues& values) {
      settings.serve = serve_settings(values, settings.verbosity);
    },
    [](const Settings& settings, std::ostream&) {
      return run_serve(settings.serve);
    }};

}  // namespace resnet_cli::cli
