// serve: the model loaded once, answering HTTP until SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <iostream>

#include "base/error.h"
#include "commands.h"
#include "model/model_loader.h"
#include "run/session.h"
#include "serve/server.h"
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

}  // namespace

ExitCode run_serve(const ServeSettings& settings) {
  // Before any thread starts, so that every thread leaves the signals to
  // the one that waits for them.
  StopSignals signals;
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
  signals.on_signal([&server] { server.stop(); });
  // Not a result, so stderr; scripts that asked for --port 0 read the port
  // here.
  std::cerr << "resnet-cli: serving " << server.model_name() << " at http://"
            << options.host << ":" << server.port() << "/\n"
            << std::flush;
  server.run();
  spdlog::info("stopped: every request received was answered");
  return kExitOk;
}

}  // namespace resnet_cli::cli
