#include "run/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

#include "base/error.h"
#include "run/batch_assembly.h"
#include "run/decode_board.h"
#include "run/delivery.h"
#include "run/explain.h"
#include "run/image_step.h"
#include "run/model_batch.h"
#include "run/overlay_files.h"
#include "run/video_summary.h"
#include "run/work_queue.h"

namespace resnet_cli {

namespace {

using detail::Clock;
using detail::Completion;
using detail::DecodeBoard;
using detail::Delivery;
using detail::FrameWindows;
using detail::OrdinalWindow;
using detail::Queue;
using detail::Slots;
using detail::StageClock;
using detail::Task;
using detail::VideoWork;

struct Prepared {
  std::uint64_t sequence = 0;
  std::uint64_t sub = 0;  // a video's frame: its place among the sampled
  std::string path;
  std::vector<float> tensor;  // 3 x crop x crop
  // explain: the decoded input's size, and the input itself for overlays.
  int image_width = 0;
  int image_height = 0;
  RgbImage image;
  std::optional<FrameInfo> frame;
};

// Thrown out of a video's frame loop when the pipeline has failed.
struct Cancelled {};

Record error_record(const std::string& path, const Error& error) {
  Record record;
  record.path = path;
  record.error = RecordError{error.kind(), error.what()};
  return record;
}

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
        slots_(in_flight_limit(options, queue_.get())),
        windows_(frame_window(options, queue_.get())) {
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

  // Each video's frames in flight: as many as the model's batches hold.
  static std::size_t frame_window(const PipelineOptions& options,
                                  const BatchQueue* queue) {
    const int batches = queue ? queue->slots() : options.workers * 2;
    // and enough for every decode thread's chunk of a video to run ahead
    return static_cast<std::size_t>(std::max(
        {16, batches * options.batch_size, options.decode_threads * 6}));
  }

  // One completion per image of a finished batch, from its rows of `output`
  // (Prepared: the CPU workers', which explain; StagedImage: a device
  // queue's, which carries no feature maps and so never runs with explain);
  // a frame keeps its logits for its video's summary.
  template <typename Image>
  void complete(std::vector<Image>& images, const float* output,
                std::size_t out_per_image) {
    const bool keep_logits = job_.video && job_.video->summary &&
                             job_.output_type != OutputType::kEmbedding;
    for (std::size_t i = 0; i < images.size(); ++i) {
      const float* row = output + i * out_per_image;
      Completion completion;
      completion.sequence = images[i].sequence;
      completion.sub = images[i].sub;
      completion.record = finish_record(images[i], row);
      completion.record.frame = images[i].frame;
      if (keep_logits && images[i].frame) {
        completion.logits.assign(row, row + record_size());
      }
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
    windows_.cancel();
    board_.cancel();
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
          board_.push(Task{sequence, std::move(input.path)});
        }
      }
    } catch (...) {
      fail(std::current_exception());
    }
    board_.close();
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
    std::shared_ptr<VideoWork> video;
    std::size_t chunk = 0;
    while (board_.take(task, video, chunk)) {
      if (failed_) break;
      try {
        if (video) {
          read_video_chunk(*video, chunk);
        } else if (job_.video && is_video_input(task.path)) {
          decode_video(task);
        } else if (!decode_one(task, scratch)) {
          break;
        }
      } catch (const Error& e) {
        if (!is_input_error(e.kind())) {
          fail(std::current_exception());
          break;
        }
        Completion completion;
        completion.sequence = task.sequence;
        completion.record = error_record(task.path, e);
        completions_.push(std::move(completion));
      } catch (const Cancelled&) {
        break;
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
      StagedImage staged;
      staged.sequence = task.sequence;
      staged.path = std::move(task.path);
      return assembler_->add(std::move(staged), tensor.data());
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
    // Video frames are not explained (README: Explain).
    if (!explainer || prepared.frame) return record;
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

  // Hands a preprocessed frame to the inference workers (CPU) or copies it
  // into the device's batch being filled; false when cancelled meanwhile.
  bool hand_to_model(Prepared&& prepared) {
    if (assembler_) {
      const float* tensor = prepared.tensor.data();
      return assembler_->add(
          StagedImage{prepared.sequence, std::move(prepared.path), prepared.sub,
                      prepared.frame},
          tensor);
    }
    prepared_.push(std::move(prepared));
    return true;
  }

  // Frame `ordinal` of a video into the model's queue, once the video's
  // window has room for it. Adds the time it waited to `waited`.
  void push_frame(std::uint64_t sequence, const std::string& path,
                  OrdinalWindow& window, VideoFrame&& frame,
                  std::uint64_t ordinal, StepTimes& times,
                  Clock::duration& waited) {
    const auto wait_start = Clock::now();
    if (!window.wait(ordinal)) throw Cancelled{};
    waited += Clock::now() - wait_start;
    Prepared prepared;
    prepared.sequence = sequence;
    prepared.sub = ordinal;
    prepared.path = path;
    prepared.frame = FrameInfo{frame.index, frame.time};
    prepared.tensor.resize(image_floats());
    prepare_frame(frame.image, job_.transform, prepared.tensor.data(), &times);
    if (!hand_to_model(std::move(prepared))) throw Cancelled{};
  }

  // Reading time, less the waits and the preprocessing, is decoding.
  void add_video_times(Clock::time_point start, Clock::duration waited,
                       const StepTimes& times) {
    preprocess_clock_.add(times.preprocess_seconds);
    decode_clock_.add(Clock::now() - start - waited);
    decode_clock_.add(-times.preprocess_seconds);
  }

  // A video: planned, then read in chunks by this thread and any other that
  // is free (read_video_chunk), or read sequentially (a stream); then its
  // end, whose closing record the delivery makes. Input errors become the
  // video's error record, after the frames read before them.
  void decode_video(const Task& task) {
    Completion end;
    end.kind = Completion::kVideoEnd;
    end.sequence = task.sequence;
    end.record.path = task.path;
    const std::shared_ptr<OrdinalWindow> window = windows_.open(task.sequence);
    try {
      VideoPlan plan =
          plan_video(task.path, *job_.video, job_.decode,
                     std::max<std::size_t>(2, windows_.size() / 3));
      if (plan.chunks.empty()) {
        read_sequentially(task, plan, *window, end);
      } else {
        read_in_chunks(task, std::move(plan), window, end);
      }
    } catch (const Error& e) {
      if (!is_input_error(e.kind())) throw;
      end.video_end.error = RecordError{e.kind(), e.what()};
    } catch (const std::bad_alloc&) {
      end.video_end.error = RecordError{
          ErrorKind::kTooLarge, task.path + ": out of memory decoding it"};
    }
    completions_.push(std::move(end));
  }

  void read_sequentially(const Task& task, VideoPlan& plan,
                         OrdinalWindow& window, Completion& end) {
    const auto start = Clock::now();
    Clock::duration waited{};
    StepTimes times;
    const auto emit = [&](VideoFrame&& frame) {
      push_frame(task.sequence, task.path, window, std::move(frame),
                 end.produced, times, waited);
      end.sub = ++end.produced;
    };
    try {
      end.video_end = read_video(task.path, *job_.video, plan, emit, stop_);
    } catch (...) {
      add_video_times(start, waited, times);
      throw;
    }
    add_video_times(start, waited, times);
  }

  void read_in_chunks(const Task& task, VideoPlan&& plan,
                      const std::shared_ptr<OrdinalWindow>& window,
                      Completion& end) {
    auto video = std::make_shared<VideoWork>();
    video->sequence = task.sequence;
    video->path = task.path;
    video->plan = std::move(plan);
    video->window = window;
    board_.add(video);
    std::size_t chunk = 0;
    while (board_.next_chunk(*video, chunk)) read_video_chunk(*video, chunk);
    const std::size_t handed_out = board_.handed_out(*video);
    std::unique_lock<std::mutex> lock(video->mutex);
    video->finished.wait(lock, [&] { return video->done == handed_out; });
    lock.unlock();
    board_.remove(*video);
    if (failed_) throw Cancelled{};
    end.video_end = planned_end(task.path, video->plan, video->failure);
    end.video_end.interrupted = stop_;
    end.produced = video->produced;
    end.sub = video->failure ? video->contiguous : video->produced;
  }

  // One chunk of a planned video, on whichever thread took it. It stops
  // when an earlier chunk has stopped (a sequential read would have ended
  // there), and always counts itself done, so that the owner's wait ends.
  void read_video_chunk(VideoWork& video, std::size_t chunk) {
    const auto start = Clock::now();
    Clock::duration waited{};
    StepTimes times;
    std::uint64_t emitted = 0;
    std::optional<RecordError> error;
    const auto keep_going = [&] {
      if (stop_ || failed_) return false;
      std::lock_guard<std::mutex> lock(video.mutex);
      return chunk < video.failed_chunk;
    };
    const auto emit = [&](VideoFrame&& frame, std::uint64_t ordinal) {
      push_frame(video.sequence, video.path, *video.window, std::move(frame),
                 ordinal, times, waited);
      ++emitted;
    };
    std::exception_ptr thrown;
    try {
      error = read_chunk(video.path, *job_.video, video.plan, chunk, emit,
                         keep_going);
    } catch (const Error& e) {
      if (is_input_error(e.kind())) {
        error = RecordError{e.kind(), e.what()};
      } else {
        thrown = std::current_exception();
      }
    } catch (...) {
      thrown = std::current_exception();
    }
    add_video_times(start, waited, times);
    {
      std::lock_guard<std::mutex> lock(video.mutex);
      video.produced += emitted;
      if (error && chunk < video.failed_chunk) {
        video.failed_chunk = chunk;
        video.failure = error;
        video.contiguous = video.plan.chunks[chunk].first_ordinal + emitted;
      }
      ++video.done;
    }
    video.finished.notify_all();
    if (thrown) std::rethrow_exception(thrown);
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
        const auto start = Clock::now();
        run_model_batch(*job_.model, images, crop, kind, scratch,
                        output.data());
        ++batches_;
        complete(batch, output.data(), out_per_image);
        inference_clock_.add(Clock::now() - start);
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
    Delivery delivery(deliver, job_, options_.ordered, slots_, windows_,
                      output_clock_, stats);
    std::optional<std::uint64_t> total;
    Completion completion;
    while (!total || delivery.inputs_delivered() < *total) {
      if (!completions_.pop(completion) ||
          completion.kind == Completion::kFatal) {
        return;
      }
      if (completion.kind == Completion::kEnd) {
        total = completion.sequence;
        continue;
      }
      delivery.take(std::move(completion));
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
  FrameWindows windows_;
  DecodeBoard board_;
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
