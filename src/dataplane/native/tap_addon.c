/*
 * TAP I/O for src/dataplane/tap.ts: open a TAP (IFF_TAP | IFF_NO_PI), watch it for
 * readability with a libuv uv_poll_t on Node's own event loop (no extra thread), read
 * bursts of frames into a caller-owned slot buffer and hand the burst to JavaScript in
 * one call, write single frames or a queued batch of them in one call. Plain Node-API C (node_api.h) so no npm dependency is
 * needed; libuv symbols come from the node binary itself.
 *
 * Why an addon: a koffi async poll() costs one thread-pool round trip per wake-up
 * (measured ~80 us on the dev box), while uv_poll_t wakes on the loop's epoll directly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, NULL, "fatriot_tap: " #call " failed");           \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

typedef struct {
  uv_poll_t poll;
  napi_env env;
  int fd;
  int stopped;
  int handle_closed; /* uv_close finished */
  int finalized;     /* the JS external that points here was collected */
  napi_ref callback;
  napi_ref slots_ref;
  napi_ref lengths_ref;
  napi_async_context async_context;
  uint8_t *slots;
  size_t slot_bytes;
  int32_t *lengths;
  uint32_t max_batch;
} tap_watch;

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value code, msg, error;
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_value errno_value;
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

static napi_value int_value(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

/*
 * The data and element count of typed-array argument `value` when it is of `type`; NULL,
 * with a TypeError thrown, otherwise (a Float64Array passed for lengths must not be read
 * as int32s).
 */
static void *typed_array_arg(napi_env env, napi_value value, napi_typedarray_type type, size_t *length,
                             const char *what) {
  napi_typedarray_type actual;
  void *data = NULL;
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &actual, length, &data, NULL, NULL) != napi_ok || actual != type) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  /* An empty typed array may have no data pointer; callers index nothing then. */
  static uint8_t empty[1];
  return data == NULL ? (void *)empty : data;
}

/* tapOpen(name: string): number - fd of a new non-blocking, close-on-exec TAP. */
static napi_value tap_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 1];
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok ||
      len == 0 || len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "tapOpen: name must be 1..15 characters");
    return NULL;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, len);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETIFF", err);
  }
  return int_value(env, fd);
}

/* tapWrite(fd, frame: Uint8Array): bytes written or -errno. */
static napi_value tap_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  size_t length;
  void *data = typed_array_arg(env, argv[1], napi_uint8_array, &length, "tapWrite: frame must be a Uint8Array");
  if (data == NULL) return NULL;
  ssize_t n = write(fd, data, length);
  return int_value(env, n < 0 ? -errno : n);
}

/*
 * tapWriteBatch(fd, slots: Uint8Array, slotBytes, lengths: Int32Array, count, results: Int32Array):
 * writes frame i, slots[i*slotBytes, i*slotBytes + lengths[i]), for i < count, in order;
 * results[i] is the bytes written or -errno. One call for a batch: the frames a model run
 * delivered go out together instead of one JS-to-C crossing each.
 */
static napi_value tap_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, slot_bytes, count;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[2], &slot_bytes));
  CHECK(napi_get_value_int32(env, argv[4], &count));
  size_t slots_length, lengths_length, results_length;
  uint8_t *slots = typed_array_arg(env, argv[1], napi_uint8_array, &slots_length, "tapWriteBatch: slots must be a Uint8Array");
  if (slots == NULL) return NULL;
  const int32_t *len = typed_array_arg(env, argv[3], napi_int32_array, &lengths_length, "tapWriteBatch: lengths must be an Int32Array");
  if (len == NULL) return NULL;
  int32_t *res = typed_array_arg(env, argv[5], napi_int32_array, &results_length, "tapWriteBatch: results must be an Int32Array");
  if (res == NULL) return NULL;
  if (count < 0 || slot_bytes <= 0 || (size_t)count > lengths_length || (size_t)count > results_length ||
      (size_t)count * (size_t)slot_bytes > slots_length) {
    napi_throw_range_error(env, NULL, "tapWriteBatch: count exceeds the slot, length or result arrays");
    return NULL;
  }
  for (int32_t i = 0; i < count; i++) {
    size_t n = len[i] < 0 ? 0 : (size_t)len[i];
    if (n > (size_t)slot_bytes) n = (size_t)slot_bytes;
    ssize_t w = write(fd, slots + (size_t)i * (size_t)slot_bytes, n);
    res[i] = w < 0 ? -errno : (int32_t)w;
  }
  return int_value(env, count);
}

/* tapRead(fd, buffer: Uint8Array): bytes read or -errno (EAGAIN when empty). */
static napi_value tap_read(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  size_t length;
  void *data = typed_array_arg(env, argv[1], napi_uint8_array, &length, "tapRead: buffer must be a Uint8Array");
  if (data == NULL) return NULL;
  ssize_t n = read(fd, data, length);
  return int_value(env, n < 0 ? -errno : n);
}

static napi_value tap_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  return int_value(env, close(fd) < 0 ? -errno : 0);
}

/* The struct lives until both libuv and JavaScript are done with it. */
static void on_handle_closed(uv_handle_t *handle) {
  tap_watch *w = (tap_watch *)handle->data;
  napi_delete_reference(w->env, w->callback);
  napi_delete_reference(w->env, w->slots_ref);
  napi_delete_reference(w->env, w->lengths_ref);
  napi_async_destroy(w->env, w->async_context);
  w->handle_closed = 1;
  if (w->finalized) free(w);
}

static void on_external_finalized(napi_env env, void *data, void *hint) {
  tap_watch *w = (tap_watch *)data;
  w->finalized = 1;
  if (w->handle_closed) free(w);
}

static void stop_watch(tap_watch *w) {
  if (w->stopped) return;
  w->stopped = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_handle_closed);
}

/*
 * Level-triggered: a burst cut at max_batch leaves the fd readable, so the loop calls
 * back on its next turn after serving other handles (fairness between ports).
 */
static void on_readable(uv_poll_t *handle, int status, int events) {
  tap_watch *w = (tap_watch *)handle->data;
  int32_t count = 0;
  int32_t error = 0;
  if (status < 0) {
    error = status;
  } else {
    while ((uint32_t)count < w->max_batch) {
      ssize_t n = read(w->fd, w->slots + (size_t)count * w->slot_bytes, w->slot_bytes);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) error = -errno;
        break;
      }
      w->lengths[count++] = (int32_t)n;
    }
  }
  if (count == 0 && error == 0) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global, argv[2], result;
  napi_get_reference_value(env, w->callback, &callback);
  napi_get_global(env, &global);
  napi_create_int32(env, count, &argv[0]);
  napi_create_int32(env, error, &argv[1]);
  if (error != 0 && error != -EINTR) stop_watch(w);
  napi_make_callback(env, w->async_context, global, callback, 2, argv, &result);
  napi_close_handle_scope(env, scope);
}

/*
 * tapWatch(fd, slots: Uint8Array, slotBytes, lengths: Int32Array, maxBatch,
 *          onBurst(count, error)): watch handle.
 * Frame i of a burst lies in slots[i*slotBytes, i*slotBytes + lengths[i]).
 */
static napi_value tap_watch_start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "tapWatch: 6 arguments expected");
    return NULL;
  }
  int32_t fd;
  uint32_t slot_bytes, max_batch;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_uint32(env, argv[2], &slot_bytes));
  CHECK(napi_get_value_uint32(env, argv[4], &max_batch));
  size_t slots_length, lengths_length;
  uint8_t *slots = typed_array_arg(env, argv[1], napi_uint8_array, &slots_length, "tapWatch: slots must be a Uint8Array");
  if (slots == NULL) return NULL;
  int32_t *lengths = typed_array_arg(env, argv[3], napi_int32_array, &lengths_length, "tapWatch: lengths must be an Int32Array");
  if (lengths == NULL) return NULL;
  if (max_batch == 0 || slot_bytes == 0 || (size_t)slot_bytes * max_batch > slots_length || max_batch > lengths_length) {
    napi_throw_range_error(env, NULL, "tapWatch: slots/lengths too small for maxBatch");
    return NULL;
  }
  tap_watch *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_errno(env, "tapWatch", ENOMEM);
  w->env = env;
  w->fd = fd;
  w->slots = slots;
  w->slot_bytes = slot_bytes;
  w->lengths = lengths;
  w->max_batch = max_batch;
  napi_value resource_name;
  napi_create_string_utf8(env, "FatriotTapWatch", NAPI_AUTO_LENGTH, &resource_name);
  CHECK(napi_async_init(env, NULL, resource_name, &w->async_context));
  CHECK(napi_create_reference(env, argv[5], 1, &w->callback));
  CHECK(napi_create_reference(env, argv[1], 1, &w->slots_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &w->lengths_ref));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc == 0) {
    w->poll.data = w;
    rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
    if (rc != 0) {
      w->stopped = 1;
      w->finalized = 1;
      uv_close((uv_handle_t *)&w->poll, on_handle_closed);
    }
  } else {
    napi_delete_reference(env, w->callback);
    napi_delete_reference(env, w->slots_ref);
    napi_delete_reference(env, w->lengths_ref);
    napi_async_destroy(env, w->async_context);
    free(w);
  }
  if (rc != 0) return throw_errno(env, "uv_poll_start", -rc);
  napi_value external;
  CHECK(napi_create_external(env, w, on_external_finalized, NULL, &external));
  return external;
}

static napi_value tap_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_watch *w;
  CHECK(napi_get_value_external(env, argv[0], (void **)&w));
  stop_watch(w);
  return NULL;
}

/* tapRef(watch, on: boolean): whether the watch keeps the event loop alive. */
static napi_value tap_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_watch *w;
  bool on;
  CHECK(napi_get_value_external(env, argv[0], (void **)&w));
  CHECK(napi_get_value_bool(env, argv[1], &on));
  if (!w->stopped) {
    if (on) uv_ref((uv_handle_t *)&w->poll);
    else uv_unref((uv_handle_t *)&w->poll);
  }
  return NULL;
}

/*
 * Writer thread: writes batches of queued frames off the JavaScript thread. A write() to a
 * TAP runs the receiving namespace's whole stack in the writer's context (3 us a 64-byte
 * frame on the dev VM, half of what the TAP path cost the thread that runs the NIC model),
 * while a NIC's DMA engine hands frames to the host and the host's CPUs do that work. So
 * TapPort hands busy bursts to this thread, as a driver posts descriptors to a DMA ring.
 *
 * Batches live in caller-owned arrays registered once: batch b is slots[b*batch_frames ..],
 * lengths and results likewise. Jobs are taken in submission order, so batch
 * job % batch_count is the one a job uses; the caller fills a batch only once the job
 * that used it last has completed.
 */
typedef struct {
  napi_env env;
  int fd;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t job_cv;  /* a job was submitted, or stop */
  pthread_cond_t done_cv; /* a job completed */
  uint8_t *slots;
  size_t slot_bytes;
  int32_t *lengths;
  int32_t *results;
  uint32_t batch_frames;
  uint32_t batch_count;
  int32_t *counts; /* frames in each batch's pending job */
  uint64_t submitted;
  uint64_t completed;
  int stop;
  int joined;
  napi_ref slots_ref;
  napi_ref lengths_ref;
  napi_ref results_ref;
} tap_writer;

static void *writer_main(void *arg) {
  tap_writer *w = (tap_writer *)arg;
  /*
   * SCHED_BATCH: waking the writer must not preempt the thread that runs the NIC model
   * on its core (CFS wakeup preemption); the writer runs on the other core, or when the
   * model's thread waits. Measured on the TAP bench, runs alternated: 64-byte full-load
   * rate 148-161 kpps against 108-141 without it, forwarder CPU 4.7-5.9 us a frame against
   * 6.1-7.4. Best effort: without it the writer still writes.
   */
  struct sched_param param = {0};
  pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (w->completed == w->submitted && !w->stop) pthread_cond_wait(&w->job_cv, &w->mu);
    if (w->completed == w->submitted) break; /* stop, and every job is written */
    uint64_t job = w->completed;
    size_t b = (size_t)(job % w->batch_count);
    int32_t count = w->counts[b];
    pthread_mutex_unlock(&w->mu);
    size_t first = b * w->batch_frames;
    for (int32_t i = 0; i < count; i++) {
      size_t k = first + (size_t)i;
      size_t n = w->lengths[k] < 0 ? 0 : (size_t)w->lengths[k];
      if (n > w->slot_bytes) n = w->slot_bytes;
      ssize_t r = write(w->fd, w->slots + k * w->slot_bytes, n);
      w->results[k] = r < 0 ? -errno : (int32_t)r;
    }
    pthread_mutex_lock(&w->mu);
    w->completed = job + 1;
    pthread_cond_broadcast(&w->done_cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Waits for every submitted job, ends the thread and lets go of the arrays. Main thread only. */
static void writer_stop(tap_writer *w) {
  if (w->joined) return;
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_cond_signal(&w->job_cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  w->joined = 1;
  napi_delete_reference(w->env, w->slots_ref);
  napi_delete_reference(w->env, w->lengths_ref);
  napi_delete_reference(w->env, w->results_ref);
}

static void on_writer_finalized(napi_env env, void *data, void *hint) {
  tap_writer *w = (tap_writer *)data;
  writer_stop(w);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->job_cv);
  pthread_cond_destroy(&w->done_cv);
  free(w->counts);
  free(w);
}

/*
 * tapWriterStart(fd, slots: Uint8Array, slotBytes, lengths: Int32Array, results: Int32Array,
 *                batchFrames, batchCount): writer handle.
 */
static napi_value tap_writer_start(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "tapWriterStart: 7 arguments expected");
    return NULL;
  }
  int32_t fd, slot_bytes, batch_frames, batch_count;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[2], &slot_bytes));
  CHECK(napi_get_value_int32(env, argv[5], &batch_frames));
  CHECK(napi_get_value_int32(env, argv[6], &batch_count));
  size_t slots_length, lengths_length, results_length;
  uint8_t *slots = typed_array_arg(env, argv[1], napi_uint8_array, &slots_length, "tapWriterStart: slots must be a Uint8Array");
  if (slots == NULL) return NULL;
  int32_t *lengths = typed_array_arg(env, argv[3], napi_int32_array, &lengths_length, "tapWriterStart: lengths must be an Int32Array");
  if (lengths == NULL) return NULL;
  int32_t *results = typed_array_arg(env, argv[4], napi_int32_array, &results_length, "tapWriterStart: results must be an Int32Array");
  if (results == NULL) return NULL;
  size_t frames = (size_t)(batch_frames > 0 ? batch_frames : 0) * (size_t)(batch_count > 0 ? batch_count : 0);
  if (slot_bytes <= 0 || batch_frames <= 0 || batch_count <= 0 || frames > lengths_length ||
      frames > results_length || frames * (size_t)slot_bytes > slots_length) {
    napi_throw_range_error(env, NULL, "tapWriterStart: batches exceed the slot, length or result arrays");
    return NULL;
  }
  tap_writer *w = calloc(1, sizeof *w);
  int32_t *counts = calloc((size_t)batch_count, sizeof *counts);
  if (w == NULL || counts == NULL) {
    free(w);
    free(counts);
    return throw_errno(env, "tapWriterStart", ENOMEM);
  }
  w->env = env;
  w->fd = fd;
  w->slots = slots;
  w->slot_bytes = (size_t)slot_bytes;
  w->lengths = lengths;
  w->results = results;
  w->batch_frames = (uint32_t)batch_frames;
  w->batch_count = (uint32_t)batch_count;
  w->counts = counts;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->job_cv, NULL);
  pthread_cond_init(&w->done_cv, NULL);
  int rc = pthread_create(&w->thread, NULL, writer_main, w);
  if (rc != 0) {
    w->joined = 1; /* no thread, no references yet: finalizing only frees */
    on_writer_finalized(env, w, NULL);
    return throw_errno(env, "pthread_create", rc);
  }
  /* The thread reads the arrays only for jobs submitted later: hold them until it ends. */
  napi_create_reference(env, argv[1], 1, &w->slots_ref);
  napi_create_reference(env, argv[3], 1, &w->lengths_ref);
  napi_create_reference(env, argv[4], 1, &w->results_ref);
  napi_value external;
  CHECK(napi_create_external(env, w, on_writer_finalized, NULL, &external));
  return external;
}

/* tapWriterSubmit(writer, count): queues the next job, frames 0..count-1 of batch submitted % batchCount. */
static napi_value tap_writer_submit(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_writer *w;
  int32_t count;
  CHECK(napi_get_value_external(env, argv[0], (void **)&w));
  CHECK(napi_get_value_int32(env, argv[1], &count));
  if (w->stop || count < 0 || (uint32_t)count > w->batch_frames) {
    napi_throw_range_error(env, NULL, "tapWriterSubmit: writer stopped, or count out of range");
    return NULL;
  }
  pthread_mutex_lock(&w->mu);
  if (w->submitted - w->completed >= w->batch_count) {
    pthread_mutex_unlock(&w->mu);
    napi_throw_range_error(env, NULL, "tapWriterSubmit: every batch is still queued");
    return NULL;
  }
  w->counts[w->submitted % w->batch_count] = count;
  w->submitted++;
  pthread_cond_signal(&w->job_cv);
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/*
 * tapWriterCompleted(writer, until): jobs completed so far, after waiting until at least
 * `until` have (0: no wait). Counts of jobs, from the writer's start.
 */
static napi_value tap_writer_completed(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_writer *w;
  int64_t until;
  CHECK(napi_get_value_external(env, argv[0], (void **)&w));
  CHECK(napi_get_value_int64(env, argv[1], &until));
  pthread_mutex_lock(&w->mu);
  if (until > (int64_t)w->submitted) until = (int64_t)w->submitted;
  while ((int64_t)w->completed < until) pthread_cond_wait(&w->done_cv, &w->mu);
  uint64_t completed = w->completed;
  pthread_mutex_unlock(&w->mu);
  return int_value(env, (int64_t)completed);
}

/* tapWriterStop(writer): writes every submitted job, then ends the thread. Idempotent. */
static napi_value tap_writer_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_writer *w;
  CHECK(napi_get_value_external(env, argv[0], (void **)&w));
  writer_stop(w);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tapOpen", NULL, tap_open, NULL, NULL, NULL, napi_default, NULL},
      {"tapWrite", NULL, tap_write, NULL, NULL, NULL, napi_default, NULL},
      {"tapWriteBatch", NULL, tap_write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"tapRead", NULL, tap_read, NULL, NULL, NULL, napi_default, NULL},
      {"tapClose", NULL, tap_close, NULL, NULL, NULL, napi_default, NULL},
      {"tapWatch", NULL, tap_watch_start, NULL, NULL, NULL, napi_default, NULL},
      {"tapUnwatch", NULL, tap_unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"tapRef", NULL, tap_ref, NULL, NULL, NULL, napi_default, NULL},
      {"tapWriterStart", NULL, tap_writer_start, NULL, NULL, NULL, napi_default, NULL},
      {"tapWriterSubmit", NULL, tap_writer_submit, NULL, NULL, NULL, napi_default, NULL},
      {"tapWriterCompleted", NULL, tap_writer_completed, NULL, NULL, NULL, napi_default, NULL},
      {"tapWriterStop", NULL, tap_writer_stop, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
