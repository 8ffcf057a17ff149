#include "http/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace vectord::http {
namespace {

namespace fs = std::filesystem;

using Args = std::vector<std::string>;
using Env = std::map<std::string, std::string>;

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("vectord_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  std::string Write(const std::string& name, const std::string& text) const {
    fs::path file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    out.close();
    return file.string();
  }

 private:
  fs::path path_;
};

// Runs the test body with the working directory set to `dir`, restoring it
// afterwards (tests run on one thread, so this is safe).
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : saved_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() {
    std::error_code ec;
    fs::current_path(saved_, ec);
  }
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  fs::path saved_;
};

constexpr const char* kFullToml = R"toml(
[vectord]
bind = "10.1.2.3:9100"
data_dir = "/var/lib/vectord-file"
fsync = "interval"
checkpoint_bytes = 123456
log_level = "debug"
workers = 7

[auth]
token = "file-token"
)toml";

// Expects an error whose message names `key` (and, if given, `also`).
void ExpectKeyError(const Result<Config>& result, std::string_view key,
                    std::string_view also = {}) {
  ASSERT_FALSE(result.ok()) << "expected an error naming " << key;
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = result.status().message();
  EXPECT_TRUE(Contains(message, key)) << "message does not name " << key << ": " << message;
  if (!also.empty()) {
    EXPECT_TRUE(Contains(message, also)) << message;
  }
}

// ---------------------------------------------------------------------------
// Defaults

TEST(Config, DefaultsWhenNothingIsGiven) {
  TempDir dir;
  ScopedCwd cwd(dir.path());  // no lakehouse.toml here
  auto config = LoadConfig({}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->config_path, "lakehouse.toml");
  EXPECT_FALSE(config->config_path_explicit);
  EXPECT_EQ(config->bind, "127.0.0.1:8090");
  EXPECT_EQ(config->host, "127.0.0.1");
  EXPECT_EQ(config->port, 8090);
  EXPECT_EQ(config->storaged_url, "");
  EXPECT_EQ(config->data_dir, "./data");
  EXPECT_EQ(config->DiskVectorsDirectory(), "./data");  // empty: data_dir
  EXPECT_FALSE(config->ephemeral);
  EXPECT_EQ(config->fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(config->fsync_interval_ms, 100u);
  EXPECT_EQ(config->checkpoint_bytes, uint64_t{64} << 20);
  EXPECT_EQ(config->checkpoint_replay_seconds, 10);
  EXPECT_EQ(config->auth_token, "");
  EXPECT_EQ(config->log_level, "info");
  EXPECT_EQ(config->workers, 0u);
  EXPECT_EQ(config->write_nice, 10u);
  EXPECT_EQ(config->io_threads, 0u);
  EXPECT_EQ(config->header_timeout_ms, 30000u);
  EXPECT_EQ(config->body_timeout_ms, 120000u);
  EXPECT_EQ(config->idle_timeout_ms, 60000u);
}

TEST(Config, MissingDefaultFileIsNotAnError) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  ASSERT_FALSE(fs::exists(dir.path() / "lakehouse.toml"));
  auto config = LoadConfig({"--bind", "127.0.0.1:1"}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->port, 1);
}

TEST(Config, DefaultFileInWorkingDirectoryIsRead) {
  TempDir dir;
  dir.Write("lakehouse.toml", kFullToml);
  ScopedCwd cwd(dir.path());
  auto config = LoadConfig({}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->config_path_explicit);
  EXPECT_EQ(config->bind, "10.1.2.3:9100");
  EXPECT_EQ(config->auth_token, "file-token");
}

// ---------------------------------------------------------------------------
// The file

TEST(Config, FileValuesAreApplied) {
  TempDir dir;
  std::string path = dir.Write("lakehouse.toml", kFullToml);
  auto config = LoadConfig({"--config", path}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->config_path, path);
  EXPECT_TRUE(config->config_path_explicit);
  EXPECT_EQ(config->bind, "10.1.2.3:9100");
  EXPECT_EQ(config->host, "10.1.2.3");
  EXPECT_EQ(config->port, 9100);
  EXPECT_EQ(config->data_dir, "/var/lib/vectord-file");
  EXPECT_EQ(config->fsync, FsyncPolicy::kInterval);
  EXPECT_EQ(config->checkpoint_bytes, 123456u);
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->workers, 7u);
  EXPECT_EQ(config->auth_token, "file-token");
  // Untouched settings keep their defaults.
  EXPECT_EQ(config->fsync_interval_ms, 100u);
  EXPECT_FALSE(config->ephemeral);
}

TEST(Config, FileWithOtherServicesSectionsIsAccepted) {
  // lakehouse.toml is shared by every service; their sections are ignored.
  TempDir dir;
  std::string path = dir.Write("lakehouse.toml", R"toml(
[storaged]
bind = "0.0.0.0:9000"
something = 12

[storaged.limits]
max_objects = 3

[vectord]
bind = "127.0.0.1:9200"

[auth]
token = "t"

[catalogd]
token = "someone else's"
)toml");
  auto config = LoadConfig({"--config", path}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->port, 9200);
  EXPECT_EQ(config->auth_token, "t");
}

// A key vectord does not know, in a table that is vectord's, is a typo: it
// stops vectord (exit code 2) naming the key and the nearest known one.
TEST(Config, UnknownKeyInOwnTableIsRefusedWithTheNearestKnownKey) {
  TempDir dir;
  struct Case {
    std::string toml;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[vectord]\nbnd = \"127.0.0.1:1\"\n", "unknown key [vectord] bnd (did you mean bind?)"},
      {"[vectord]\nfsync_interval = 5\n",
       "unknown key [vectord] fsync_interval (did you mean fsync_interval_ms?)"},
      {"[vectord]\nDATA_DIR = \"/x\"\n", "unknown key [vectord] DATA_DIR (did you mean data_dir?)"},
      {"[auth]\ntokn = \"t\"\n", "unknown key [auth] tokn (did you mean token?)"},
      // The key of another of vectord's tables is named with its table.
      {"[vectord]\ntoken = \"t\"\n", "unknown key [vectord] token (did you mean [auth] token?)"},
      // A sub-table is a key of its parent.
      {"[vectord.binds]\nhost = \"x\"\n", "unknown key [vectord] binds (did you mean bind?)"},
      {"vectord.workerz = 2\n", "unknown key [vectord] workerz (did you mean workers?)"},
      // Known keys before it do not hide it.
      {"[vectord]\nbind = \"127.0.0.1:1\"\nworkers = 2\nlog_levle = \"debug\"\n",
       "unknown key [vectord] log_levle (did you mean log_level?)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.toml);
    const std::string path = dir.Write("typo.toml", c.toml);
    auto config = LoadConfig({"--config", path}, {});
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(config.status().message(), "config: " + path + ": " + c.message);
  }
}

TEST(Config, OwnTableThatIsNotATableIsRefused) {
  TempDir dir;
  const std::string path = dir.Write("flat.toml", "vectord = \"127.0.0.1:1\"\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord", "expected a table");
}

// Every key vectord declares passes the check (and is applied).
TEST(Config, EveryDeclaredKeyIsAccepted) {
  TempDir dir;
  const std::string tokens = dir.Write("tokens.toml", "");
  const std::string path = dir.Write("all.toml", R"toml(
[vectord]
bind = "127.0.0.1:9300"
storaged_url = ""
s3_access_key = "ak"
s3_secret_key = "sk"
s3_region = "eu-west-1"
s3_multipart_bytes = 10485760
data_dir = "/tmp/all"
disk_vectors_dir = "/tmp/all-vectors"
ephemeral = false
fsync = "interval"
fsync_interval_ms = 50
checkpoint_bytes = 8192
checkpoint_replay_seconds = 2.5
memory_limit = 67108864
log_level = "warn"
workers = 3
write_nice = 5
io_threads = 2
header_timeout_ms = 1000
body_timeout_ms = 2000
idle_timeout_ms = 3000
max_connections = 99
recall_cpu_budget = 0.5
recall_sample_rate = 0.25

[auth]
token = "t"
tokens_file = ")toml" + tokens + R"toml("

[cluster]
etcd_endpoints = []
node_id = "n1"
advertise_url = "http://127.0.0.1:9300"
lease_ttl_ms = 3000
key_prefix = "/other/"
)toml");
  auto config = LoadConfig({"--config", path}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->port, 9300);
  EXPECT_FALSE(config->cluster_mode());
  EXPECT_EQ(config->lease_ttl_ms, 3000u);
  EXPECT_EQ(config->max_connections, 99u);
  EXPECT_EQ(config->recall_sample_rate, 0.25);
  EXPECT_EQ(config->checkpoint_replay_seconds, 2.5);
  EXPECT_EQ(config->memory_limit, std::optional<uint64_t>(67108864));
  EXPECT_EQ(config->DiskVectorsDirectory(), "/tmp/all-vectors");
  // The usage text lists exactly the settings: one line each, all in the file above.
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string usage = ConfigUsage();
  size_t listed = 0;
  for (size_t at = usage.find("\t["); at != std::string::npos; at = usage.find("\t[", at + 1)) {
    const size_t end = usage.find('\n', at);
    const std::string entry = usage.substr(at + 1, end - at - 1);  // "[vectord] bind"
    const std::string key = entry.substr(entry.find("] ") + 2);
    EXPECT_TRUE(Contains(text, "\n" + key + " = ")) << entry << " is not in the test's file";
    ++listed;
  }
  size_t in_file = 0;
  for (size_t at = text.find(" = "); at != std::string::npos; at = text.find(" = ", at + 1)) {
    ++in_file;
  }
  EXPECT_EQ(listed, in_file);
}

// ---------------------------------------------------------------------------
// Cluster mode

constexpr const char* kBucketFlags[] = {"--storaged-url",  "http://127.0.0.1:9000/lakehouse",
                                        "--s3-access-key", "a",
                                        "--s3-secret-key", "s"};

Args ClusterArgs(std::initializer_list<std::string> more) {
  Args args(std::begin(kBucketFlags), std::end(kBucketFlags));
  args.insert(args.end(), more);
  return args;
}

TEST(Config, ClusterSettingsFromTheFileEnvironmentAndFlags) {
  TempDir dir;
  const std::string path = dir.Write("cluster.toml", R"toml(
[vectord]
storaged_url = "http://127.0.0.1:9000/lakehouse"
s3_access_key = "a"
s3_secret_key = "s"

[cluster]
etcd_endpoints = ["http://127.0.0.1:2379", "http://127.0.0.1:22379"]
node_id = "n1"
advertise_url = "http://127.0.0.1:8091"
)toml");
  auto config = LoadConfig({"--config", path}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->cluster_mode());
  EXPECT_EQ(config->etcd_endpoints,
            (std::vector<std::string>{"http://127.0.0.1:2379", "http://127.0.0.1:22379"}));
  EXPECT_EQ(config->node_id, "n1");
  EXPECT_EQ(config->lease_ttl_ms, 5000u);
  EXPECT_EQ(config->cluster_key_prefix, "/vectord/");
  EXPECT_TRUE(Contains(config->Describe(), "node_id=n1"));

  // The environment and flags take a comma-separated list.
  auto from_env =
      LoadConfig({"--config", path, "--node-id", "n2"},
                 {{"VECTORD_ETCD_ENDPOINTS", "http://10.0.0.1:2379, http://10.0.0.2:2379"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->etcd_endpoints,
            (std::vector<std::string>{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}));
  EXPECT_EQ(from_env->node_id, "n2");
}

TEST(Config, ClusterModeNeedsTheBucketNamingBothKeys) {
  auto config = LoadConfig({"--etcd-endpoints", "http://127.0.0.1:2379", "--node-id", "n1",
                            "--advertise-url", "http://127.0.0.1:8091"},
                           {});
  ExpectKeyError(config, "cluster.etcd_endpoints", "vectord.storaged_url");
}

TEST(Config, ClusterSettingsThatCannotWorkAreRefused) {
  ExpectKeyError(LoadConfig(ClusterArgs({"--etcd-endpoints", "127.0.0.1:2379"}), {}),
                 "--etcd-endpoints", "http://host:port");
  ExpectKeyError(LoadConfig(ClusterArgs({"--etcd-endpoints", "http://127.0.0.1:2379",
                                         "--advertise-url", "http://127.0.0.1:8091"}),
                            {}),
                 "cluster.node_id");
  ExpectKeyError(LoadConfig(ClusterArgs({"--etcd-endpoints", "http://127.0.0.1:2379", "--node-id",
                                         "n/1", "--advertise-url", "http://127.0.0.1:8091"}),
                            {}),
                 "cluster.node_id");
  ExpectKeyError(
      LoadConfig(ClusterArgs({"--etcd-endpoints", "http://127.0.0.1:2379", "--node-id", "n1"}), {}),
      "cluster.advertise_url");
  ExpectKeyError(
      LoadConfig(ClusterArgs({"--etcd-endpoints", "http://127.0.0.1:2379", "--node-id", "n1",
                              "--advertise-url", "http://127.0.0.1:8091", "--lease-ttl-ms", "500"}),
                 {}),
      "cluster.lease_ttl_ms");
  ExpectKeyError(LoadConfig(ClusterArgs({"--etcd-endpoints", "http://127.0.0.1:2379", "--node-id",
                                         "n1", "--advertise-url", "http://127.0.0.1:8091",
                                         "--cluster-key-prefix", "x"}),
                            {}),
                 "cluster.key_prefix");
  TempDir dir;
  const std::string path = dir.Write("bad.toml", "[cluster]\netcd_endpoints = \"http://a:1\"\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "cluster.etcd_endpoints", "array of strings");
}

TEST(Config, EmptyFileGivesDefaults) {
  TempDir dir;
  std::string path = dir.Write("empty.toml", "");
  auto config = LoadConfig({"--config", path}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bind, "127.0.0.1:8090");
  EXPECT_EQ(config->auth_token, "");
}

TEST(Config, EphemeralAndBoolsFromFile) {
  TempDir dir;
  std::string path = dir.Write("l.toml", "[vectord]\nephemeral = true\ndata_dir = \"\"\n");
  auto config = LoadConfig({"--config", path}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->ephemeral);
  EXPECT_EQ(config->data_dir, "");
}

// ---------------------------------------------------------------------------
// Precedence: defaults < file < environment < flags

TEST(Config, EnvironmentOverridesFile) {
  TempDir dir;
  std::string path = dir.Write("lakehouse.toml", kFullToml);
  Env env = {{"VECTORD_BIND", "10.9.9.9:9300"},    {"VECTORD_AUTH_TOKEN", "env-token"},
             {"VECTORD_DATA_DIR", "/env/data"},    {"VECTORD_FSYNC", "always"},
             {"VECTORD_CHECKPOINT_BYTES", "8192"}, {"VECTORD_LOG_LEVEL", "warn"}};
  auto config = LoadConfig({"--config", path}, env);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bind, "10.9.9.9:9300");
  EXPECT_EQ(config->port, 9300);
  EXPECT_EQ(config->auth_token, "env-token");
  EXPECT_EQ(config->data_dir, "/env/data");
  EXPECT_EQ(config->fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(config->checkpoint_bytes, 8192u);
  EXPECT_EQ(config->log_level, "warn");
  // Not in the environment: the file's value stays.
  EXPECT_EQ(config->workers, 7u);
}

TEST(Config, FlagsOverrideEnvironmentAndFile) {
  TempDir dir;
  std::string path = dir.Write("lakehouse.toml", kFullToml);
  Env env = {{"VECTORD_BIND", "10.9.9.9:9300"},
             {"VECTORD_AUTH_TOKEN", "env-token"},
             {"VECTORD_CHECKPOINT_BYTES", "8192"}};
  auto config = LoadConfig({"--config", path, "--bind", "10.8.8.8:9400", "--auth-token=flag-token",
                            "--checkpoint-bytes", "9000", "--fsync", "always"},
                           env);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bind, "10.8.8.8:9400");
  EXPECT_EQ(config->host, "10.8.8.8");
  EXPECT_EQ(config->port, 9400);
  EXPECT_EQ(config->auth_token, "flag-token");
  EXPECT_EQ(config->checkpoint_bytes, 9000u);
  EXPECT_EQ(config->fsync, FsyncPolicy::kAlways);
  // Only in the file.
  EXPECT_EQ(config->data_dir, "/var/lib/vectord-file");
}

TEST(Config, EnvironmentOverridesDefaults) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  Env env = {{"VECTORD_BIND", "0.0.0.0:7000"},
             {"VECTORD_EPHEMERAL", "true"},
             {"VECTORD_FSYNC", "interval"},
             {"VECTORD_FSYNC_INTERVAL_MS", "250"},
             {"VECTORD_WORKERS", "3"},
             {"VECTORD_WRITE_NICE", "0"},
             {"VECTORD_IO_THREADS", "2"},
             {"VECTORD_HEADER_TIMEOUT_MS", "1000"},
             {"VECTORD_BODY_TIMEOUT_MS", "2000"},
             {"VECTORD_IDLE_TIMEOUT_MS", "3000"},
             {"VECTORD_LOG_LEVEL", "error"},
             {"UNRELATED_VARIABLE", "ignored"}};
  auto config = LoadConfig({}, env);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->host, "0.0.0.0");
  EXPECT_EQ(config->port, 7000);
  EXPECT_TRUE(config->ephemeral);
  EXPECT_EQ(config->fsync, FsyncPolicy::kInterval);
  EXPECT_EQ(config->fsync_interval_ms, 250u);
  EXPECT_EQ(config->workers, 3u);
  EXPECT_EQ(config->write_nice, 0u);
  EXPECT_EQ(config->io_threads, 2u);
  EXPECT_EQ(config->header_timeout_ms, 1000u);
  EXPECT_EQ(config->body_timeout_ms, 2000u);
  EXPECT_EQ(config->idle_timeout_ms, 3000u);
  EXPECT_EQ(config->log_level, "error");
}

TEST(Config, EveryFlagIsAccepted) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  auto config = LoadConfig({"--bind",
                            "[::1]:8123",
                            "--data-dir",
                            "/d",
                            "--fsync",
                            "interval",
                            "--fsync-interval-ms",
                            "5",
                            "--checkpoint-bytes",
                            "5000000000",
                            "--log-level",
                            "debug",
                            "--workers",
                            "4",
                            "--io-threads",
                            "3",
                            "--header-timeout-ms",
                            "11",
                            "--body-timeout-ms",
                            "12",
                            "--idle-timeout-ms",
                            "13",
                            "--auth-token",
                            "tok",
                            "--ephemeral"},
                           {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->host, "::1");
  EXPECT_EQ(config->port, 8123);
  EXPECT_EQ(config->data_dir, "/d");
  EXPECT_EQ(config->fsync, FsyncPolicy::kInterval);
  EXPECT_EQ(config->fsync_interval_ms, 5u);
  EXPECT_EQ(config->checkpoint_bytes, 5000000000u);
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->workers, 4u);
  EXPECT_EQ(config->io_threads, 3u);
  EXPECT_EQ(config->header_timeout_ms, 11u);
  EXPECT_EQ(config->body_timeout_ms, 12u);
  EXPECT_EQ(config->idle_timeout_ms, 13u);
  EXPECT_EQ(config->auth_token, "tok");
  EXPECT_TRUE(config->ephemeral);
}

TEST(Config, LaterFlagWins) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  auto config = LoadConfig({"--bind", "127.0.0.1:1", "--bind=127.0.0.1:2"}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->port, 2);
}

TEST(Config, BindWithEmptyHostListensEverywhere) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  auto config = LoadConfig({"--bind", ":8555"}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->host, "0.0.0.0");
  EXPECT_EQ(config->port, 8555);
}

// ---------------------------------------------------------------------------
// Where the file is

TEST(Config, AllConfigPathForms) {
  TempDir dir;
  std::string path = dir.Write("custom.toml", "[vectord]\nbind = \"127.0.0.1:9911\"\n");
  const std::vector<Args> forms = {
      {"-config", path}, {"--config", path}, {"-config=" + path}, {"--config=" + path}};
  for (const Args& args : forms) {
    SCOPED_TRACE(args[0]);
    auto config = LoadConfig(args, {});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_EQ(config->config_path, path);
    EXPECT_TRUE(config->config_path_explicit);
    EXPECT_EQ(config->port, 9911);
  }
}

TEST(Config, ConfigPathFromEnvironment) {
  TempDir dir;
  std::string path = dir.Write("env.toml", "[vectord]\nbind = \"127.0.0.1:9922\"\n");
  auto config = LoadConfig({}, {{"VECTORD_CONFIG", path}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->config_path, path);
  EXPECT_TRUE(config->config_path_explicit);
  EXPECT_EQ(config->port, 9922);
}

TEST(Config, ConfigFlagBeatsConfigEnvironment) {
  TempDir dir;
  std::string from_env = dir.Write("env.toml", "[vectord]\nbind = \"127.0.0.1:9922\"\n");
  std::string from_flag = dir.Write("flag.toml", "[vectord]\nbind = \"127.0.0.1:9933\"\n");
  auto config = LoadConfig({"--config", from_flag}, {{"VECTORD_CONFIG", from_env}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->config_path, from_flag);
  EXPECT_EQ(config->port, 9933);
}

TEST(Config, ExplicitMissingFileIsAnError) {
  TempDir dir;
  std::string missing = (dir.path() / "does-not-exist.toml").string();
  for (const Args& args :
       std::vector<Args>{{"--config", missing}, {"-config", missing}, {"--config=" + missing}}) {
    SCOPED_TRACE(args[0]);
    auto config = LoadConfig(args, {});
    ExpectKeyError(config, "config", missing);
  }
  ExpectKeyError(LoadConfig({}, {{"VECTORD_CONFIG", missing}}), "config", missing);
}

TEST(Config, ConfigFlagWithoutPathIsAnError) {
  ExpectKeyError(LoadConfig({"--config"}, {}), "config");
  ExpectKeyError(LoadConfig({"-config"}, {}), "config");
}

// ---------------------------------------------------------------------------
// Invalid values: the message names the key, in whatever source it came from.

TEST(Config, BadBindIsRefused) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  for (const std::string bind : {"nohostport", "127.0.0.1:70000", "127.0.0.1:", "127.0.0.1:http",
                                 "127.0.0.1:-1", "127.0.0.1:80x"}) {
    SCOPED_TRACE(bind);
    ExpectKeyError(LoadConfig({"--bind", bind}, {}), "vectord.bind", bind);
    ExpectKeyError(LoadConfig({}, {{"VECTORD_BIND", bind}}), "vectord.bind", bind);
    std::string path = dir.Write("bind.toml", "[vectord]\nbind = \"" + bind + "\"\n");
    ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.bind", bind);
  }
}

TEST(Config, BadFsyncIsRefused) {
  TempDir dir;
  std::string path = dir.Write("f.toml", "[vectord]\nfsync = \"sometimes\"\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.fsync", "sometimes");
  ExpectKeyError(LoadConfig({"--config", path, "--fsync", "always"}, {}), "vectord.fsync");
  ScopedCwd cwd(dir.path());
  ExpectKeyError(LoadConfig({}, {{"VECTORD_FSYNC", "sometimes"}}), "VECTORD_FSYNC", "sometimes");
  ExpectKeyError(LoadConfig({"--fsync", "sometimes"}, {}), "--fsync", "sometimes");
}

TEST(Config, BadLogLevelIsRefused) {
  TempDir dir;
  std::string path = dir.Write("f.toml", "[vectord]\nlog_level = \"loud\"\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.log_level", "loud");
  ScopedCwd cwd(dir.path());
  ExpectKeyError(LoadConfig({}, {{"VECTORD_LOG_LEVEL", "loud"}}), "VECTORD_LOG_LEVEL", "loud");
  ExpectKeyError(LoadConfig({"--log-level=loud"}, {}), "--log-level", "loud");
}

TEST(Config, NonNumericCheckpointBytesIsRefused) {
  TempDir dir;
  std::string path = dir.Write("f.toml", "[vectord]\ncheckpoint_bytes = \"soon\"\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.checkpoint_bytes");
  ScopedCwd cwd(dir.path());
  for (const std::string bad :
       {"soon", "", "-5", "1.5", "64MiB", "4095", "0", "99999999999999999999999"}) {
    SCOPED_TRACE(bad);
    ExpectKeyError(LoadConfig({}, {{"VECTORD_CHECKPOINT_BYTES", bad}}), "VECTORD_CHECKPOINT_BYTES");
    ExpectKeyError(LoadConfig({"--checkpoint-bytes", bad}, {}), "--checkpoint-bytes");
  }
  auto smallest = LoadConfig({"--checkpoint-bytes", "4096"}, {});
  ASSERT_TRUE(smallest.ok()) << smallest.status().ToString();
  EXPECT_EQ(smallest->checkpoint_bytes, 4096u);
}

TEST(Config, CheckpointReplaySecondsTakesFractionsWithinBounds) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  for (const std::string bad : {"soon", "", "-1", "0", "0.0009", "86401", "inf", "nan", "10s"}) {
    SCOPED_TRACE(bad);
    ExpectKeyError(LoadConfig({}, {{"VECTORD_CHECKPOINT_REPLAY_SECONDS", bad}}),
                   "VECTORD_CHECKPOINT_REPLAY_SECONDS");
    ExpectKeyError(LoadConfig({"--checkpoint-replay-seconds", bad}, {}),
                   "--checkpoint-replay-seconds");
  }
  auto smallest = LoadConfig({"--checkpoint-replay-seconds", "0.001"}, {});
  ASSERT_TRUE(smallest.ok()) << smallest.status().ToString();
  EXPECT_EQ(smallest->checkpoint_replay_seconds, 0.001);
  auto from_env = LoadConfig({}, {{"VECTORD_CHECKPOINT_REPLAY_SECONDS", "86400"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->checkpoint_replay_seconds, 86400);
  // In the file an integer is a number of seconds too; a string is refused.
  std::string path = dir.Write("f.toml", "[vectord]\ncheckpoint_replay_seconds = 30\n");
  auto whole = LoadConfig({"--config", path}, {});
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->checkpoint_replay_seconds, 30);
  path = dir.Write("f.toml", "[vectord]\ncheckpoint_replay_seconds = \"30\"\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.checkpoint_replay_seconds");
  path = dir.Write("f.toml", "[vectord]\ncheckpoint_replay_seconds = 0.0\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.checkpoint_replay_seconds");
}

TEST(Config, MemoryLimitIsBytesOrZeroForNone) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  auto unset = LoadConfig({}, {});
  ASSERT_TRUE(unset.ok()) << unset.status().ToString();
  EXPECT_FALSE(unset->memory_limit.has_value());  // main uses half the machine's memory
  auto none = LoadConfig({"--memory-limit", "0"}, {});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->memory_limit, std::optional<uint64_t>(0));
  auto from_env = LoadConfig({}, {{"VECTORD_MEMORY_LIMIT", "1048576"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->memory_limit, std::optional<uint64_t>(1048576));
  for (const std::string bad : {"1048575", "-1", "1G", "", "big"}) {
    SCOPED_TRACE(bad);
    ExpectKeyError(LoadConfig({"--memory-limit", bad}, {}), "--memory-limit");
  }
  std::string path = dir.Write("f.toml", "[vectord]\nmemory_limit = \"1048576\"\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.memory_limit");
}

TEST(Config, NumbersOutOfRangeAreRefused) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  ExpectKeyError(LoadConfig({"--workers", "1025"}, {}), "--workers", "1025");
  ExpectKeyError(LoadConfig({"--io-threads", "65"}, {}), "--io-threads", "65");
  ExpectKeyError(LoadConfig({"--write-nice", "20"}, {}), "--write-nice", "20");
  ExpectKeyError(LoadConfig({"--fsync-interval-ms", "60001"}, {}), "--fsync-interval-ms");
  ExpectKeyError(LoadConfig({"--header-timeout-ms", "3600001"}, {}), "--header-timeout-ms");
  ExpectKeyError(LoadConfig({"--fsync-interval-ms", "0"}, {}), "vectord.fsync_interval_ms");
  std::string path = dir.Write("f.toml", "[vectord]\ncheckpoint_bytes = -1\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.checkpoint_bytes");
  path = dir.Write("f.toml", "[vectord]\nfsync_interval_ms = -1\n");
  ExpectKeyError(LoadConfig({"--config", path}, {}), "vectord.fsync_interval_ms");
}

TEST(Config, BadBoolIsRefused) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  ExpectKeyError(LoadConfig({"--ephemeral=maybe"}, {}), "--ephemeral", "maybe");
  ExpectKeyError(LoadConfig({}, {{"VECTORD_EPHEMERAL", "maybe"}}), "VECTORD_EPHEMERAL", "maybe");
}

// A value of the wrong TOML type is an error naming the key, never converted.
TEST(Config, WrongTomlTypeIsRefused) {
  TempDir dir;
  struct Case {
    std::string toml;
    std::string key;
  };
  const std::vector<Case> cases = {
      {"[vectord]\nbind = 5\n", "vectord.bind"},
      {"[vectord]\nbind = true\n", "vectord.bind"},
      {"[vectord]\ndata_dir = [\"a\"]\n", "vectord.data_dir"},
      {"[vectord]\nfsync = 1\n", "vectord.fsync"},
      {"[vectord]\ncheckpoint_bytes = \"65536\"\n", "vectord.checkpoint_bytes"},
      {"[vectord]\ncheckpoint_bytes = 65536.5\n", "vectord.checkpoint_bytes"},
      {"[vectord]\nfsync_interval_ms = 1.5\n", "vectord.fsync_interval_ms"},
      {"[vectord]\nfsync_interval_ms = true\n", "vectord.fsync_interval_ms"},
      {"[vectord]\nworkers = false\n", "vectord.workers"},
      {"[vectord]\nephemeral = \"true\"\n", "vectord.ephemeral"},
      {"[vectord]\nephemeral = 1\n", "vectord.ephemeral"},
      {"[auth]\ntoken = 12345\n", "auth.token"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.toml);
    std::string path = dir.Write("typed.toml", c.toml);
    ExpectKeyError(LoadConfig({"--config", path}, {}), c.key);
  }
}

TEST(Config, TomlSyntaxErrorNamesFileAndLine) {
  TempDir dir;
  std::string path = dir.Write("broken.toml",
                               "[vectord]\n"
                               "bind = \"127.0.0.1:8090\"\n"
                               "data_dir = \"unterminated\n");
  auto config = LoadConfig({"--config", path}, {});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(config.status().message(), path + ":3")) << config.status().message();

  std::string path2 = dir.Write("broken2.toml", "[vectord\nbind = 1\n");
  auto config2 = LoadConfig({"--config", path2}, {});
  ASSERT_FALSE(config2.ok());
  EXPECT_TRUE(Contains(config2.status().message(), path2 + ":1")) << config2.status().message();
}

TEST(Config, UnknownFlagIsAnError) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  ExpectKeyError(LoadConfig({"--no-such-flag"}, {}), "--no-such-flag");
  ExpectKeyError(LoadConfig({"--no-such-flag=1"}, {}), "--no-such-flag");
  ExpectKeyError(LoadConfig({"stray-argument"}, {}), "stray-argument");
  // A bool flag takes no separate value: the next word is a new argument.
  ExpectKeyError(LoadConfig({"--ephemeral", "false"}, {}), "false");
}

TEST(Config, FlagWithoutValueIsAnError) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  ExpectKeyError(LoadConfig({"--bind"}, {}), "--bind");
  ExpectKeyError(LoadConfig({"--auth-token"}, {}), "--auth-token");
}

TEST(Config, EphemeralFlagNeedsNoValue) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  auto config = LoadConfig({"--ephemeral", "--bind", "127.0.0.1:8001"}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->ephemeral);
  EXPECT_EQ(config->port, 8001);

  auto off = LoadConfig({"--ephemeral=false"}, {{"VECTORD_EPHEMERAL", "true"}});
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->ephemeral);

  auto on = LoadConfig({"--ephemeral=true"}, {});
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_TRUE(on->ephemeral);
}

TEST(Config, EmptyDataDirNeedsEphemeral) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  ExpectKeyError(LoadConfig({"--data-dir", ""}, {}), "vectord.data_dir");
  auto config = LoadConfig({"--data-dir", "", "--ephemeral"}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
}

TEST(Config, StoragedUrlNeedsAnEndpointBucketAndCredentials) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  const std::map<std::string, std::string> aws = {{"AWS_ACCESS_KEY_ID", "AKID"},
                                                  {"AWS_SECRET_ACCESS_KEY", "s3cr3t"},
                                                  {"AWS_REGION", "eu-west-1"}};
  // No bucket in the URL, a bad scheme, or with ephemeral: the URL's key.
  ExpectKeyError(LoadConfig({"--storaged-url", "http://127.0.0.1:3211"}, aws),
                 "vectord.storaged_url");
  ExpectKeyError(LoadConfig({"--storaged-url", "s3://bucket"}, aws), "vectord.storaged_url");
  ExpectKeyError(LoadConfig({"--storaged-url", "http://h:1/lakehouse", "--ephemeral"}, aws),
                 "vectord.storaged_url");
  // No credentials anywhere.
  ExpectKeyError(LoadConfig({"--storaged-url", "http://h:1/lakehouse"}, {}),
                 "vectord.s3_access_key");

  auto config = LoadConfig({"--storaged-url", "http://h:1/lakehouse/tenant"}, aws);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->s3_access_key, "AKID");
  EXPECT_EQ(config->s3_secret_key, "s3cr3t");
  EXPECT_EQ(config->s3_region, "eu-west-1");
  EXPECT_EQ(config->Describe().find("s3cr3t"), std::string::npos);
  EXPECT_EQ(config->Describe().find("AKID"), std::string::npos);

  // vectord's own settings win over the AWS variables.
  std::string path = dir.Write("s.toml",
                               "[vectord]\nstoraged_url = \"http://127.0.0.1:9000/lakehouse\"\n"
                               "s3_access_key = \"FROMFILE\"\n");
  config = LoadConfig({"--config", path, "--s3-secret-key", "flag-secret"}, aws);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->s3_access_key, "FROMFILE");
  EXPECT_EQ(config->s3_secret_key, "flag-secret");

  // Empty is the seed's "no object storage" and is fine.
  config = LoadConfig({"--storaged-url", ""}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->storaged_url, "");
}

// ---------------------------------------------------------------------------
// Describe and usage

TEST(Config, DescribeMasksTheToken) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  const std::string token = "s3cr3t-Token-value";
  auto config = LoadConfig({"--auth-token", token, "--bind", "127.0.0.1:8444"}, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  std::string text = config->Describe();
  EXPECT_TRUE(Contains(text, "***")) << text;
  EXPECT_FALSE(Contains(text, token)) << text;
  EXPECT_FALSE(Contains(text, "s3cr3t")) << text;
  EXPECT_TRUE(Contains(text, "bind=127.0.0.1:8444")) << text;

  auto no_token = LoadConfig({}, {});
  ASSERT_TRUE(no_token.ok());
  EXPECT_FALSE(Contains(no_token->Describe(), "***"));
}

TEST(Config, UsageListsEverySetting) {
  std::string usage = ConfigUsage();
  for (const char* name :
       {"--bind", "VECTORD_BIND", "--auth-token", "VECTORD_AUTH_TOKEN", "--data-dir", "--ephemeral",
        "--fsync", "--checkpoint-bytes", "--log-level", "--storaged-url", "token", "-config"}) {
    EXPECT_TRUE(Contains(usage, name)) << name;
  }
}

// ---------------------------------------------------------------------------
// Scoped tokens

TEST(Config, ScopedTokensComeFromTheFileAndTheTokensFile) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  const std::string tokens_file = dir.Write("tokens.toml", R"([[auth.tokens]]
token = "from-tokens-file"
indexes = "team-b-*"
access = "admin"
)");
  const std::string path = dir.Write("main.toml", R"([auth]
token = "full"

[[auth.tokens]]
token = "reader"
indexes = "team-a-*"
access = "read"

[[auth.tokens]]
token = "writer"
indexes = ["docs", "team-?-shared"]
access = "write"
)");
  auto config = LoadConfig({"--config", path}, {{"VECTORD_AUTH_TOKENS_FILE", tokens_file}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->auth_token, "full");
  ASSERT_EQ(config->auth_tokens.size(), 3u);
  EXPECT_EQ(config->auth_tokens[0].token, "reader");
  EXPECT_EQ(config->auth_tokens[0].indexes, std::vector<std::string>{"team-a-*"});
  EXPECT_EQ(config->auth_tokens[0].access, Access::kRead);
  EXPECT_EQ(config->auth_tokens[1].indexes, (std::vector<std::string>{"docs", "team-?-shared"}));
  EXPECT_EQ(config->auth_tokens[1].access, Access::kWrite);
  EXPECT_EQ(config->auth_tokens[2].token, "from-tokens-file");
  EXPECT_EQ(config->auth_tokens[2].access, Access::kAdmin);
  EXPECT_EQ(config->auth_tokens_file, tokens_file);

  // The flag names the file too; no token is ever in the start-up line.
  auto by_flag = LoadConfig({"--auth-tokens-file", tokens_file}, {});
  ASSERT_TRUE(by_flag.ok()) << by_flag.status().ToString();
  ASSERT_EQ(by_flag->auth_tokens.size(), 1u);
  const std::string described = config->Describe();
  EXPECT_TRUE(Contains(described, "auth_tokens=3")) << described;
  for (const char* secret : {"full", "reader", "writer", "from-tokens-file"}) {
    EXPECT_FALSE(Contains(described, std::string("=") + secret)) << described;
    EXPECT_FALSE(Contains(described, secret)) << secret;
  }
}

TEST(Config, BadScopedTokensAreRefusedWithoutShowingThem) {
  TempDir dir;
  ScopedCwd cwd(dir.path());
  struct Case {
    std::string toml;
    std::string error;
  };
  const std::string entry = "[[auth.tokens]]\n";
  const std::vector<Case> cases = {
      {entry + "token = \"Zq9secret\"\nindexes = \"a*\"\n", "auth.tokens[0]: access is missing"},
      {entry + "token = \"Zq9secret\"\nindexes = \"a*\"\naccess = \"owner\"\n",
       "auth.tokens[0]: access must be read, write or admin, got 'owner'"},
      {entry + "indexes = \"a*\"\naccess = \"read\"\n", "auth.tokens[0]: token is empty"},
      {entry + "token = \"Zq9secret\"\naccess = \"read\"\n",
       "auth.tokens[0]: indexes names no pattern"},
      {entry + "token = \"Zq9secret\"\nindexes = \"\"\naccess = \"read\"\n",
       "auth.tokens[0]: an indexes pattern is empty"},
      {entry + "token = \"Zq9secret\"\nindexes = [1]\naccess = \"read\"\n",
       "auth.tokens[0]: indexes: expected a string or strings"},
      {entry + "token = \"Zq9secret\"\nindexes = \"a\"\naccess = \"read\"\nscope = \"x\"\n",
       "auth.tokens[0]: unknown key scope"},
      {entry + "token = \"Zq9secret\"\nindexes = \"a\"\naccess = \"read\"\n" + entry +
           "token = \"Zq9secret\"\nindexes = \"b\"\naccess = \"admin\"\n",
       "auth.tokens[1]: token is the same as auth.tokens[0]'s"},
      {"[auth]\ntoken = \"Zq9secret\"\n" + entry +
           "token = \"Zq9secret\"\nindexes = \"b\"\naccess = \"read\"\n",
       "auth.tokens[0]: token is the same as auth.token"},
      {"[auth]\ntokens = \"Zq9secret\"\n", "auth.tokens: expected [[auth.tokens]] tables"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.toml);
    auto config = LoadConfig({"--config", dir.Write("bad.toml", c.toml)}, {});
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(config.status().message(), c.error)) << config.status().message();
    EXPECT_FALSE(Contains(config.status().message(), "Zq9secret")) << config.status().message();
  }
  // A tokens file holds tokens and nothing else, and must exist.
  const std::string other = dir.Write("other.toml", "[vectord]\nbind = \"127.0.0.1:1\"\n");
  auto mixed = LoadConfig({"--auth-tokens-file", other}, {});
  ASSERT_FALSE(mixed.ok());
  EXPECT_TRUE(Contains(mixed.status().message(), "holds only [[auth.tokens]] entries"))
      << mixed.status().message();
  ExpectKeyError(LoadConfig({"--auth-tokens-file", (dir.path() / "absent.toml").string()}, {}),
                 "auth.tokens_file");
}

// Found by fuzz/config_fuzzer (crash-90f4ac87, crash-5e1f07a2,
// crash-a1fd6287 and crash-887ab5c7, kept in its corpus): toml++ 3.3 reaches
// __builtin_unreachable when it asks whether some non-ASCII code points are
// whitespace (upstream #190, #295), which in a malformed document it asks of
// almost any character. vectord refuses those code points, and malformed
// UTF-8, with a clear error before toml++ sees the text.
TEST(ConfigFuzzRegressions, Crashes90f4ac87And5e1f07a2Anda1fd6287TomlUnreachableWhitespaceCheck) {
  TempDir dir;
  struct Case {
    std::string text;
    std::string error;  // empty: loads
  };
  const std::string unsafe = "cannot be read safely by the TOML parser";
  const Case cases[] = {
      {"[vectord]\nworkers = 2\xef\xaf\xb6\n", "character U+FBF6 on line 2 " + unsafe},
      {"[vectord]\nworkers = [8\xd0\x95]\n", "character U+0415 on line 2 " + unsafe},
      {"[other]\ns = \"\"\"\\\n\xc2\xa7\"\"\"\n", "character U+00A7 on line 3 " + unsafe},
      {"[vectord]\nbind = 2907'''x'\xc4\x81'\n", "character U+0101 on line 2 " + unsafe},
      {"# caf\xc3\xa9\n", "character U+00E9 on line 1 " + unsafe},
      {"bind\xe2\xbb\xbf", "character U+2EFF on line 1 " + unsafe},
      {"[x]\ny = \"\xef\xac\xa6\"", "character U+FB26 on line 2 " + unsafe},
      {"[vectord]\nlog_level = \"caf\xe9\"\n", "not valid UTF-8 (line 2)"},
      // What stays allowed: a byte-order mark, other scripts, \u escapes.
      {"\xef\xbb\xbf# \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82\n[other]\nname = \"caf\\u00e9 "
       "\xe3\x80\x80\"\n[vectord]\nbind = \"127.0.0.1:1\"\n",
       ""},
  };
  for (const Case& c : cases) {
    std::string path = dir.Write("case.toml", c.text);
    auto config = LoadConfig({"--config", path}, {});
    if (c.error.empty()) {
      EXPECT_TRUE(config.ok()) << config.status().ToString();
      continue;
    }
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(config.status().message().find("config: " + path + ": " + c.error), 0u)
        << config.status().message();
  }
  // The fuzzer's own inputs.
  for (const char* name :
       {"crash-90f4ac87", "crash-5e1f07a2", "crash-a1fd6287", "crash-887ab5c7"}) {
    std::ifstream crash(std::string(VECTORD_SOURCE_DIR) + "/fuzz/corpus/config/" + name,
                        std::ios::binary);
    ASSERT_TRUE(crash.good()) << name;
    const std::string bytes((std::istreambuf_iterator<char>(crash)),
                            std::istreambuf_iterator<char>());
    auto config = LoadConfig({"--config", dir.Write("crash.toml", bytes)}, {});
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument) << name;
  }
}

}  // namespace
}  // namespace vectord::http
