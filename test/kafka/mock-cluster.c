/*
 * A Kafka-protocol cluster for the integration tests: librdkafka's mock cluster (rdkafka_mock.h) in a process of its
 * own, driven line by line on stdin. Built and started by test/kafka/mock-cluster.ts.
 *
 *   mock-cluster [brokers]          prints "bootstrap host:port,..." once the brokers listen
 *
 * Commands (one per line; each answered by one line, "ok ..." or "error ..."):
 *   topic <name> <partitions> <replication>   create a topic (the mock has no CreateTopics API)
 *   leader <topic> <partition> <broker>       move the partition's leader (-1: no leader)
 *   down <broker> | up <broker>               close a broker's connections and refuse new ones / accept again
 *   errors <api> <error> [<error> ...]        the next requests of that API (name or key, e.g. Produce or 0) fail
 *                                             with these errors (name without RD_KAFKA_RESP_ERR_, or number)
 *   clear <api>                               drop the API's queued errors
 *   delay <broker> <api> <ms>                 the broker answers its next request of that API this much later
 *   ping                                      answers "ok pong"
 * End of input (the test process exited) destroys the cluster and exits, so a crashed test leaves nothing behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static const struct { const char *name; int key; } APIS[] = {
    {"Produce", 0},       {"Fetch", 1},           {"ListOffsets", 2},  {"Metadata", 3},   {"OffsetCommit", 8},
    {"OffsetFetch", 9},   {"FindCoordinator", 10}, {"JoinGroup", 11},   {"Heartbeat", 12}, {"LeaveGroup", 13},
    {"SyncGroup", 14},    {"ApiVersions", 18},    {"InitProducerId", 22},
};

/* An API key from its name or number; -1 if unknown. */
static int api_key(const char *s) {
  char *end;
  long n = strtol(s, &end, 10);
  if (*s && !*end) return (int)n;
  for (size_t i = 0; i < sizeof APIS / sizeof APIS[0]; i++)
    if (!strcasecmp(s, APIS[i].name)) return APIS[i].key;
  return -1;
}

/* An error code from its name (as in rd_kafka_err2name) or number; 1 on success. */
static int error_code(const char *s, rd_kafka_resp_err_t *out) {
  char *end;
  long n = strtol(s, &end, 10);
  if (*s && !*end) {
    *out = (rd_kafka_resp_err_t)n;
    return 1;
  }
  const struct rd_kafka_err_desc *descs;
  size_t cnt;
  rd_kafka_get_err_descs(&descs, &cnt);
  for (size_t i = 0; i < cnt; i++) {
    if (descs[i].name && !strcasecmp(s, descs[i].name)) {
      *out = descs[i].code;
      return 1;
    }
  }
  return 0;
}

static void reply(const char *status, const char *what) {
  printf("%s %s\n", status, what);
  fflush(stdout);
}

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 3;
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* Warnings and errors only: the notice that this handle has no bootstrap.servers is expected. */
  rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr);
  /* The mock cluster needs an rd_kafka_t for its bookkeeping; this one never produces. */
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    return 1;
  }
  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    char *argv2[64];
    int n = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && n < 64; tok = strtok(NULL, " \t\r\n")) argv2[n++] = tok;
    if (n == 0) continue;
    const char *cmd = argv2[0];
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    char what[512];
    snprintf(what, sizeof what, "%s", cmd);
    if (!strcmp(cmd, "ping")) {
      reply("ok", "pong");
      continue;
    } else if (!strcmp(cmd, "topic") && n == 4) {
      err = rd_kafka_mock_topic_create(mc, argv2[1], atoi(argv2[2]), atoi(argv2[3]));
      snprintf(what, sizeof what, "topic %s", argv2[1]);
    } else if (!strcmp(cmd, "leader") && n == 4) {
      err = rd_kafka_mock_partition_set_leader(mc, argv2[1], atoi(argv2[2]), atoi(argv2[3]));
      snprintf(what, sizeof what, "leader %s %s %s", argv2[1], argv2[2], argv2[3]);
    } else if (!strcmp(cmd, "down") && n == 2) {
      err = rd_kafka_mock_broker_set_down(mc, atoi(argv2[1]));
      snprintf(what, sizeof what, "down %s", argv2[1]);
    } else if (!strcmp(cmd, "up") && n == 2) {
      err = rd_kafka_mock_broker_set_up(mc, atoi(argv2[1]));
      snprintf(what, sizeof what, "up %s", argv2[1]);
    } else if (!strcmp(cmd, "delay") && n == 4) {
      int key = api_key(argv2[2]);
      if (key < 0) {
        snprintf(what, sizeof what, "delay: unknown api %s", argv2[2]);
        reply("error", what);
        continue;
      }
      /* No error of its own: only the answer's round trip; the request is handled as usual. */
      err = rd_kafka_mock_broker_push_request_error_rtts(mc, atoi(argv2[1]), (int16_t)key, 1, RD_KAFKA_RESP_ERR_NO_ERROR, atoi(argv2[3]));
      snprintf(what, sizeof what, "delay %s %s %s", argv2[1], argv2[2], argv2[3]);
    } else if ((!strcmp(cmd, "errors") && n >= 3) || (!strcmp(cmd, "clear") && n == 2)) {
      int key = api_key(argv2[1]);
      if (key < 0) {
        snprintf(what, sizeof what, "%s: unknown api %s", cmd, argv2[1]);
        reply("error", what);
        continue;
      }
      if (!strcmp(cmd, "clear")) {
        rd_kafka_mock_clear_request_errors(mc, (int16_t)key);
        snprintf(what, sizeof what, "clear %s", argv2[1]);
        reply("ok", what);
        continue;
      }
      rd_kafka_resp_err_t codes[62];
      int cnt = 0, bad = 0;
      for (int i = 2; i < n; i++) {
        if (!error_code(argv2[i], &codes[cnt++])) {
          snprintf(what, sizeof what, "errors: unknown error %s", argv2[i]);
          bad = 1;
          break;
        }
      }
      if (bad) {
        reply("error", what);
        continue;
      }
      rd_kafka_mock_push_request_errors_array(mc, (int16_t)key, (size_t)cnt, codes);
      snprintf(what, sizeof what, "errors %s %d", argv2[1], cnt);
    } else {
      snprintf(what, sizeof what, "unknown command or wrong arguments: %s", cmd);
      reply("error", what);
      continue;
    }
    if (err) {
      char msg[640];
      snprintf(msg, sizeof msg, "%s: %s", what, rd_kafka_err2name(err));
      reply("error", msg);
    } else {
      reply("ok", what);
    }
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
