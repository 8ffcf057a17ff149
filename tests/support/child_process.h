// Child processes for tests: start a program with its output captured in a
// file, run one to completion, pick a free loopback port, make a scratch
// directory. Shared by every test that drives a real program (vectord,
// Prometheus, wrk, s3rver).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vectord::testing {

// Starts `program` with `args` and the test's environment (minus VECTORD_*
// variables) plus `env`, stdout and stderr appended to `log_path`; -1 on failure.
pid_t SpawnLogged(const std::string& program, const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env, const std::string& log_path);
// An exit code, or 128 + signal for a process killed by one.
int DecodeWaitStatus(int status);
std::string ReadFileText(const std::string& path);

// Another program a test drives (Prometheus, wrk), its output captured in a
// file. The destructor stops it: SIGTERM, SIGKILL after 5 s.
class ChildProcess {
 public:
  // nullptr when it cannot be started.
  static std::unique_ptr<ChildProcess> Start(const std::string& program,
                                             const std::vector<std::string>& args,
                                             const std::map<std::string, std::string>& env = {});
  ~ChildProcess();
  std::string Output() const;
  pid_t pid() const { return pid_; }
  // SIGKILL now (a crash, for tests of what survives one).
  void Kill();
  // True once the process has ended (reaps it).
  bool Exited();

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  std::string log_path_;
};

// How a program run by RunCaptured ended.
struct CapturedRun {
  int exit_code = -1;  // 128 + signal if killed by one; -1: not started or timed out
  bool timed_out = false;
  std::string out;  // its stdout
  std::string err;  // its stderr
  double seconds = 0;
  std::string start_error;  // why it could not start
};

struct CaptureOptions {
  std::map<std::string, std::string> env;  // on top of the test's, minus VECTORD_*
  std::chrono::milliseconds timeout{60000};
  // Start it in a process group of its own and kill the whole group on
  // timeout and at the end (a browser's renderer and helper processes).
  bool own_process_group = false;
};

// Runs `program` to completion with stdin from /dev/null and stdout and
// stderr captured apart (in files under `scratch_dir`, removed afterwards),
// so it sees no terminal; killed after the timeout.
CapturedRun RunCaptured(const std::string& program, const std::vector<std::string>& args,
                        const std::string& scratch_dir, const CaptureOptions& options = {});

// Runs `program` to completion (killed after `timeout`); returns its exit
// code (-1 if it could not start or timed out) and its output.
int RunProgram(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout,
               std::string* output);

// A loopback TCP port nobody listens on right now, for a child to bind.
uint16_t FreeLoopbackPort();

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace vectord::testing
