#include "support/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace vectord::testing {

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

// Where a child's output goes: both streams appended to one log, or stdout
// and stderr each to a fresh file.
struct OutputFiles {
  std::string out;
  std::string err;  // empty: stderr goes with stdout, appended
};

pid_t Spawn(const std::string& program, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env, const OutputFiles& files,
            bool own_process_group, int* spawn_error) {
  std::vector<std::string> argv_storage = {program};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    std::string name(*e, static_cast<size_t>(eq - *e));
    if (name.rfind("VECTORD_", 0) == 0) continue;  // tests set their own
    merged[name] = eq + 1;
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : merged) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (files.err.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, files.out.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, files.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, files.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  if (own_process_group) {
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
  }
  pid_t pid = -1;
  const int rc =
      posix_spawn(&pid, program.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawn_error != nullptr) *spawn_error = rc;
  return rc == 0 ? pid : -1;
}

}  // namespace

pid_t SpawnLogged(const std::string& program, const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env, const std::string& log_path) {
  return Spawn(program, args, env, OutputFiles{log_path, ""}, false, nullptr);
}

CapturedRun RunCaptured(const std::string& program, const std::vector<std::string>& args,
                        const std::string& scratch_dir, const CaptureOptions& options) {
  static std::atomic<int> serial{0};
  const std::string stem = scratch_dir + "/run-" + std::to_string(++serial);
  const OutputFiles files{stem + ".out", stem + ".err"};
  CapturedRun run;
  const auto start = std::chrono::steady_clock::now();
  int spawn_error = 0;
  const pid_t pid =
      Spawn(program, args, options.env, files, options.own_process_group, &spawn_error);
  if (pid < 0) {
    run.start_error = "cannot start " + program + ": " + std::strerror(spawn_error);
    return run;
  }
  // The whole group when the program has one of its own: a browser's helper
  // processes go with it.
  const pid_t target = options.own_process_group ? -pid : pid;
  int status = 0;
  while (true) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      run.exit_code = DecodeWaitStatus(status);
      break;
    }
    if (std::chrono::steady_clock::now() - start >= options.timeout) {
      ::kill(target, SIGKILL);
      ::waitpid(pid, &status, 0);
      run.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (options.own_process_group) ::kill(target, SIGKILL);  // anything left behind
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.out = ReadFileText(files.out);
  run.err = ReadFileText(files.err);
  ::unlink(files.out.c_str());
  ::unlink(files.err.c_str());
  return run;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int RunProgram(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout,
               std::string* output) {
  char name[] = "/tmp/vectord-test-log-XXXXXX";
  int fd = mkstemp(name);
  if (fd >= 0) ::close(fd);
  pid_t pid = SpawnLogged(program, args, env, name);
  if (pid < 0) {
    *output = "cannot start " + program;
    ::unlink(name);
    return -1;
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int code = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      code = DecodeWaitStatus(status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (code == -1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  *output = ReadFileText(name);
  ::unlink(name);
  return code;
}

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::string& program,
                                                  const std::vector<std::string>& args,
                                                  const std::map<std::string, std::string>& env) {
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  char name[] = "/tmp/vectord-test-child-XXXXXX";
  int fd = mkstemp(name);
  if (fd >= 0) ::close(fd);
  child->log_path_ = name;
  child->pid_ = SpawnLogged(program, args, env, child->log_path_);
  if (child->pid_ < 0) return nullptr;
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ::unlink(log_path_.c_str());
}

std::string ChildProcess::Output() const { return ReadFileText(log_path_); }

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool ChildProcess::Exited() {
  if (pid_ <= 0) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return true;
  }
  return false;
}

uint16_t FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

TempDir::TempDir() {
  char name[] = "/tmp/vectord-test-XXXXXX";
  path_ = ::mkdtemp(name);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace vectord::testing
