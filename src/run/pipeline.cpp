#include "run/pipeline.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

#include "base/error.h"
#include "run/batch_assembly.h"
#include "run/explain.h"
#include "run/image_step.h"
#include "run/model_batch.h"
#include "run/overlay_files.h"

namespace resnet_cli {

namespace {

// A closable queue. Its length is bounded by the in-flight slots, not here.
template <typename T>
class Queue {
 public:
  void push(T item) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }
  // Blocks until an item is there (true) or the queue is closed and empty.
  bool pop(T& item) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    item = std::move(items_.front());
    items_.pop_front();
    return true;
  }
  bool try_pop(T& item) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (items_.empty()) return false;
    item = std::move(items_.front());
    items_.pop_front();
    return true;
  }
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
};

// Counts inputs in flight: taken when an input starts, given back when its
// record has been delivered.
class Slots {
 public:
  explicit Slots(std::size_t count) : free_(count) {}
  bool acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return free_ > 0 || cancelled_; });
    if (cancelled_) return false;
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++free_;
    }
    changed_.notify_one();
  }
  void cancel() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t free_;
  bool cancelled_ = false;
};

struct Task {
  std::uint64_t sequence = 0;
  std::string path;
};

struct Prepared {
  std::uint64_t sequence = 0;
  std::string path;
  std::vector<float> tensor;  // 3 x crop x crop
  // explain: the decoded input's size, and the input itself for overlays.
  int image_width = 0;
  int image_height = 0;
  RgbImage image;
};

struct Completion {
  enum Kind { kRecord, kEnd, kFatal } kind = kRecord;
  std::uint64_t sequence = 0;  // kEnd: the number of inputs
  Record record;
};

Record error_record(const std::string& path, const Error& error) {
  Record record;
  record.path = path;
  record.error = RecordError{error.kind(), error.what()};
  return record;
}

// Adds up seconds from several threads.
class StageClock {
 public:
  void add(std::chrono::steady_clock::duration elapsed) {
    nanoseconds_ +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
  }
  void add(double seconds) {
    nanoseconds_ += static_cast<std::int64_t>(seconds * 1e9);
  }
  double seconds() const {
    return static_cast<double>(nanoseconds_.load()) * 1e-9;
  }

 private:
  std::atomic<std::int64_t> nanoseconds_{0};
};

class Pipeline {
 public:
  Pipeline(InputScanner& scanner, const ClassifyJob& job,
           const PipelineOptions& options, const std::atomic<bool>& stop,
           std::unique_ptr<BatchQueue> queue)
      : scanner_(scanner),
        job_(job),
        output_{job.output_type, job.topk, job.labels},
        options_(options),
        stop_(stop),
        queue_(std::move(queue)),
        slots_(in_flight_limit(options, queue_.get())) {
    if (queue_) {
      assembler_.emplace(*queue_, image_floats(), options.batch_size,
                         options.decode_threads);
    }
  }

  PipelineStats run(const std::function<void(Record&&)>& deliver) {
    std::vector<std::thread> threads;
    threads.emplace_back([this] { produce(); });
    active_decoders_ = options_.decode_threads;
    for (int i = 0; i < options_.decode_threads; ++i) {
      threads.emplace_back([this] { decode(); });
    }
    if (queue_) {
      threads.emplace_back([this] { infer_on_device(); });
    } else {
      for (int i = 0; i < options_.workers; ++i) {
        threads.emplace_back([this] { infer(); });
      }
    }
    PipelineStats stats;
    try {
      write(deliver, stats);
    } catch (...) {
      fail(std::current_exception());
    }
    for (std::thread& thread : threads) thread.join();
    if (fatal_) std::rethrow_exception(fatal_);
    stats.decode_seconds = decode_clock_.seconds();
    stats.preprocess_seconds = preprocess_clock_.seconds();
    stats.inference_seconds = inference_clock_.seconds();
    stats.output_seconds = output_clock_.seconds();
    stats.input_wait_seconds = input_wait_clock_.seconds();
    stats.batches = batches_;
    return stats;
  }

 private:
  // Inputs in flight: enough for every worker's batches (on a device, every
  // slot's) and every decoder's image, so that no stage waits on the bound.
  static std::size_t in_flight_limit(const PipelineOptions& options,
                                     const BatchQueue* queue) {
    const int batches = queue ? queue->slots() : options.workers * 2;
    return static_cast<std::size_t>(batches * options.batch_size +
                                    options.decode_threads * 2 + 8);
  }

  std::size_t image_floats() const {
    const auto crop = static_cast<std::size_t>(job_.transform.crop_size);
    return 3 * crop * crop;
  }

  // One record per image of a finished batch, from its rows of `output`
  // (Prepared: the CPU workers', which explain; StagedImage: a device
  // queue's, which carries no feature maps and so never runs with explain).
  template <typename Image>
  void complete(std::vector<Image>& images, const float* output,
                std::size_t out_per_image) {
    for (std::size_t i = 0; i < images.size(); ++i) {
      Completion completion;
      completion.sequence = images[i].sequence;
      completion.record = finish_record(images[i], output + i * out_per_image);
      completions_.push(std::move(completion));
    }
  }
  void fail(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(fatal_mutex_);
      if (!fatal_) fatal_ = error;
    }
    failed_ = true;
    slots_.cancel();
    tasks_.close();
    prepared_.close();
    if (assembler_) assembler_->cancel();
    Completion completion;
    completion.kind = Completion::kFatal;
    completions_.push(std::move(completion));
  }

  void produce() {
    std::uint64_t count = 0;
    try {
      while (!stop_ && !failed_) {
        if (!slots_.acquire()) break;
        Input input;
        if (stop_ || !scanner_.next(input)) {
          slots_.release();
          break;
        }
        const std::uint64_t sequence = count++;
        if (input.error) {
          Completion completion;
          completion.sequence = sequence;
          completion.record.path = input.path;
          completion.record.error = input.error;
          completions_.push(std::move(completion));
        } else {
          tasks_.push(Task{sequence, std::move(input.path)});
        }
      }
    } catch (...) {
      fail(std::current_exception());
    }
    tasks_.close();
    Completion end;
    end.kind = Completion::kEnd;
    end.sequence = count;
    completions_.push(std::move(end));
  }

  // Reads, decodes and preprocesses; the image goes to the inference
  // workers (CPU) or straight into the device's batch being filled.
  void decode() {
    std::vector<float> scratch;  // the device path's image, reused
    Task task;
    while (tasks_.pop(task)) {
      if (failed_) break;
      try {
        if (!decode_one(task, scratch)) break;
      } catch (const Error& e) {
        if (!is_input_error(e.kind())) {
          fail(std::current_exception());
          break;
        }
        Completion completion;
        completion.sequence = task.sequence;
        completion.record = error_record(task.path, e);
        completions_.push(std::move(completion));
      } catch (...) {
        fail(std::current_exception());
        break;
      }
    }
    if (assembler_) assembler_->producer_done();
    if (--active_decoders_ == 0) prepared_.close();
  }

  // False when the pipeline was cancelled meanwhile.
  bool decode_one(Task& task, std::vector<float>& scratch) {
    std::vector<float> own;
    std::vector<float>& tensor = assembler_ ? scratch : own;
    tensor.resize(image_floats());
    StepTimes times;
    RgbImage decoded;
    const bool explain = job_.explain.explainer != nullptr;
    prepare_input(InputBytes{task.path}, job_.decode, job_.transform,
                  tensor.data(), nullptr, &times, explain ? &decoded : nullptr);
    decode_clock_.add(times.decode_seconds);
    preprocess_clock_.add(times.preprocess_seconds);
    if (assembler_) {
      return assembler_->add(task.sequence, std::move(task.path),
                             tensor.data());
    }
    Prepared prepared;
    prepared.sequence = task.sequence;
    prepared.path = std::move(task.path);
    prepared.tensor = std::move(own);
    prepared.image_width = decoded.width;
    prepared.image_height = decoded.height;
    // Kept only when an overlay is drawn from it.
    if (!job_.explain.overlay_folder.empty()) {
      prepared.image = std::move(decoded);
    }
    prepared_.push(std::move(prepared));
    return true;
  }

  Record finish_record(StagedImage& staged, const float* row) const {
    Record record;
    record.path = std::move(staged.path);
    fill_record(record, row, record_size(), output_);
    return record;
  }

  // Values of a row fill_record reads: the logits or the features (an
  // explained row has the feature maps after them).
  std::int64_t record_size() const {
    return job_.output_type == OutputType::kEmbedding
               ? job_.model->feature_size()
               : job_.model->num_classes();
  }

  // The record of one image of a batch, from its row of the batch's output.
  Record finish_record(Prepared& prepared, const float* row) const {
    Record record;
    record.path = std::move(prepared.path);
    fill_record(record, row, record_size(), output_);
    const Explainer* explainer = job_.explain.explainer;
    if (!explainer) return record;
    record.explanation =
        explainer->explain(row, prepared.image_width, prepared.image_height);
    const ExplainJob& explain = job_.explain;
    if (!explain.overlay_folder.empty() &&
        (!explain.overlay_wanted || explain.overlay_wanted(record))) {
      write_overlays(prepared.image, job_.transform, explain.overlay_folder,
                     record.path, *record.explanation);
    }
    prepared.image = RgbImage{};
    return record;
  }

  BatchOutput batch_output() const {
    if (job_.output_type == OutputType::kEmbedding) {
      return BatchOutput::kFeatures;
    }
    return job_.explain.explainer ? BatchOutput::kLogitsAndMaps
                                  : BatchOutput::kLogits;
  }

  void infer() {
    try {
      job_.model->bind_thread(options_.threads_per_worker);
      const int crop = job_.transform.crop_size;
      const BatchOutput kind = batch_output();
      const std::size_t out_per_image =
          model_output_size(*job_.model, kind, crop);
      BatchScratch scratch;
      std::vector<float> output(out_per_image *
                                static_cast<std::size_t>(options_.batch_size));
      std::vector<Prepared> batch;
      std::vector<const float*> images;
      Prepared item;
      while (prepared_.pop(item)) {
        batch.clear();
        batch.push_back(std::move(item));
        while (static_cast<int>(batch.size()) < options_.batch_size &&
               prepared_.try_pop(item)) {
          batch.push_back(std::move(item));
        }
        images.clear();
        for (const Prepared& prepared : batch) {
          images.push_back(prepared.tensor.data());
        }
        const auto start = std::chrono::steady_clock::now();
        run_model_batch(*job_.model, images, crop, kind, scratch,
                        output.data());
        ++batches_;
        complete(batch, output.data(), out_per_image);
        inference_clock_.add(std::chrono::steady_clock::now() - start);
      }
    } catch (...) {
      fail(std::current_exception());
    }
  }

  // The device path: one thread submits each batch the decoders assembled
  // and collects it, keeping all but one slot in flight so that the
  // decoders always have one to fill. While batches are in flight it takes
  // the next only when full; with none in flight, whatever is there.
  void infer_on_device() {
    std::deque<StagedBatch> in_flight;
    const auto out_per_image =
        static_cast<std::size_t>(queue_->outputs_per_image());
    const auto collect_oldest = [&] {
      StagedBatch oldest = std::move(in_flight.front());
      in_flight.pop_front();
      const auto start = std::chrono::steady_clock::now();
      const float* output = queue_->collect(oldest.slot);
      inference_clock_.add(std::chrono::steady_clock::now() - start);
      complete(oldest.images, output, out_per_image);
      assembler_->release(oldest.slot);
    };
    try {
      const auto most =
          static_cast<std::size_t>(std::max(1, queue_->slots() - 1));
      for (;;) {
        if (in_flight.size() >= most) collect_oldest();
        const auto start = std::chrono::steady_clock::now();
        std::optional<StagedBatch> batch = assembler_->take(!in_flight.empty());
        if (in_flight.empty()) {
          input_wait_clock_.add(std::chrono::steady_clock::now() - start);
        }
        if (!batch) {
          if (in_flight.empty()) break;
          collect_oldest();
          continue;
        }
        const auto submitted = std::chrono::steady_clock::now();
        queue_->submit(batch->slot,
                       static_cast<std::int64_t>(batch->images.size()));
        inference_clock_.add(std::chrono::steady_clock::now() - submitted);
        ++batches_;
        in_flight.push_back(std::move(*batch));
      }
    } catch (...) {
      fail(std::current_exception());
    }
  }

  void write(const std::function<void(Record&&)>& deliver,
             PipelineStats& stats) {
    std::map<std::uint64_t, Record> waiting;  // finished out of order
    std::optional<std::uint64_t> total;
    std::uint64_t delivered = 0;
    auto hand_over = [&](Record&& record) {
      (record.error ? stats.failed : stats.ok)++;
      const auto start = std::chrono::steady_clock::now();
      deliver(std::move(record));
      output_clock_.add(std::chrono::steady_clock::now() - start);
      ++delivered;
      slots_.release();
    };
    Completion completion;
    while (!total || delivered < *total) {
      if (!completions_.pop(completion) ||
          completion.kind == Completion::kFatal) {
        return;
      }
      if (completion.kind == Completion::kEnd) {
        total = completion.sequence;
        continue;
      }
      if (!options_.ordered) {
        hand_over(std::move(completion.record));
        continue;
      }
      waiting.emplace(completion.sequence, std::move(completion.record));
      for (auto next = waiting.find(delivered); next != waiting.end();
           next = waiting.find(delivered)) {
        Record record = std::move(next->second);
        waiting.erase(next);
        hand_over(std::move(record));
      }
    }
  }

  InputScanner& scanner_;
  const ClassifyJob& job_;
  const OutputSpec output_;
  PipelineOptions options_;
  const std::atomic<bool>& stop_;
  std::unique_ptr<BatchQueue> queue_;  // the device's; none on the CPU
  std::optional<BatchAssembler> assembler_;
  Slots slots_;
  Queue<Task> tasks_;
  Queue<Prepared> prepared_;
  Queue<Completion> completions_;
  std::atomic<int> active_decoders_{0};
  StageClock decode_clock_, preprocess_clock_, inference_clock_, output_clock_;
  StageClock input_wait_clock_;
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<bool> failed_{false};
  std::mutex fatal_mutex_;
  std::exception_ptr fatal_;
};

}  // namespace

PipelineStats run_pipeline(InputScanner& scanner, const ClassifyJob& job,
                           const PipelineOptions& options,
                           const std::function<void(Record&&)>& deliver,
                           const std::atomic<bool>& stop) {
  PipelineOptions checked = options;
  checked.workers = std::max(1, checked.workers);
  checked.threads_per_worker = std::max(1, checked.threads_per_worker);
  checked.decode_threads = std::max(1, checked.decode_threads);
  checked.batch_size = std::max(1, checked.batch_size);
  // A device keeps batches in flight from its own host buffers; the CPU
  // gives none and its workers call forward() themselves.
  BatchShape shape;
  shape.max_batch = checked.batch_size;
  shape.height = shape.width = job.transform.crop_size;
  shape.features = job.output_type == OutputType::kEmbedding;
  // explain needs layer4's maps, which a device's queue does not give back:
  // its workers call forward_with_feature_maps() on the device instead.
  Pipeline pipeline(
      scanner, job, checked, stop,
      job.explain.explainer ? nullptr : job.model->open_batch_queue(shape));
  return pipeline.run(deliver);
}

}  // namespace resnet_cli
