// Staging buffer for output written in order: the kernels produce the output plane by plane,
// row by row, into a small buffer that stays in L1 (planes adjacent in the output form one run,
// across images too), and the buffer goes to memory in 16-byte non-temporal stores when the
// output is large.  Streaming stores skip the read-for-ownership of ordinary stores: on this
// project's machines they write large outputs about twice as fast, and they keep the output from
// evicting the input.  A writer that can stop exactly at the end of what it writes may skip the
// buffer when the output is not streamed (see direct()).
#pragma once

#include <cstdint>
#include <cstring>

#include "glassbox/common.hpp"
#include "simd.hpp"

namespace glassbox {

// Outputs at least this large are streamed; smaller ones are likely to be read again soon by the
// caller, from cache, and are written with ordinary stores.
inline constexpr index_t kStreamOutputBytes = index_t{4} << 20;

class OutputSink {
 public:
  // Largest single reserve(); rows must fit, with the slack the writers may scribble past a
  // row's end (rewritten by the next row, or never flushed).
  static constexpr index_t kMaxRow = 8192;
  static constexpr index_t kSlack = 64;

  explicit OutputSink(bool stream) : stream_(stream) {
#ifndef GLASSBOX_SSE2
    stream_ = false;
#endif
  }
  OutputSink(const OutputSink&) = delete;
  OutputSink& operator=(const OutputSink&) = delete;
  ~OutputSink() { fence(); }

  // Continue the output at dst.  Where the staged bytes end there already (planes written in
  // output order) they simply go on; elsewhere they are written out first.
  void seek(std::uint8_t* dst) {
    if (dst == dst_ + len_) return;
    end();
    dst_ = dst;
  }
  // Room for n <= kMaxRow bytes (plus kSlack) at the end of the staged bytes.
  std::uint8_t* reserve(index_t n) {
    if (len_ + n + kSlack > kCapacity) flush(false);
    return buf_ + len_;
  }
  void commit(index_t n) {
    len_ += n;
    if (stream_ && len_ >= kEagerBytes) flush(false);
  }
  // Unstreamed output only: where the next bytes go in the destination itself, for a writer that
  // writes them there exactly (nothing past them), once instead of staged and copied; then
  // advance() past them.
  std::uint8_t* direct() {
    end();
    return dst_;
  }
  void advance(index_t n) { dst_ += n; }
  // Write out everything staged.
  void end() {
    if (len_ > 0) flush(true);
  }
  // Whether outputs are streamed, and a note that the caller streamed some itself (so that
  // fence() orders them too).
  bool streaming() const { return stream_; }
  void note_streamed() { streamed_ = true; }
  // Order this thread's streaming stores before whatever follows (the end of the parallel
  // region); ordinary stores need nothing.
  void fence() {
#ifdef GLASSBOX_SSE2
    if (streamed_) _mm_sfence();
#endif
    streamed_ = false;
  }

 private:
  static constexpr index_t kCapacity = 4 * kMaxRow;
  // Streamed output is written out as soon as this much is staged, so that the streaming stores
  // interleave with the kernel's work instead of coming in 32 KB bursts: about 10% faster on
  // this project's machines (alternating A/B runs of the fused path at 28 and 224 px).
  static constexpr index_t kEagerBytes = 2048;

  // All staged bytes (all) or the largest 16-byte-aligned run of them at the destination; the
  // few bytes left over move to the front of the buffer.
  void flush([[maybe_unused]] bool all) {  // all: used with SSE2 only
    index_t done = len_;
#ifdef GLASSBOX_SSE2
    if (stream_) {
      const auto addr = reinterpret_cast<std::uintptr_t>(dst_);
      index_t head = static_cast<index_t>((16 - addr % 16) % 16);
      if (head > len_) head = len_;
      std::memcpy(dst_, buf_, static_cast<std::size_t>(head));
      // locals: the stores may alias any byte, members would be reloaded every iteration
      std::uint8_t* const dst = dst_;
      const std::uint8_t* const buf = buf_;
      const index_t len = len_;
      index_t i = head;
      auto stream16 = [dst, buf](index_t at) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + at));
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst + at), v);
      };
      for (; i + 64 <= len; i += 64) {  // four stores an iteration: the loop's own overhead stays hidden
        stream16(i);
        stream16(i + 16);
        stream16(i + 32);
        stream16(i + 48);
      }
      for (; i + 16 <= len; i += 16) stream16(i);
      streamed_ = streamed_ || i > head;
      if (all)
        std::memcpy(dst_ + i, buf_ + i, static_cast<std::size_t>(len_ - i));
      else
        done = i;
    } else
#endif
    {
      std::memcpy(dst_, buf_, static_cast<std::size_t>(len_));
    }
    dst_ += done;
    std::memmove(buf_, buf_ + done, static_cast<std::size_t>(len_ - done));
    len_ -= done;
  }

  bool stream_;
  bool streamed_ = false;
  std::uint8_t* dst_ = nullptr;
  index_t len_ = 0;
  alignas(64) std::uint8_t buf_[kCapacity + kSlack];
};

}  // namespace glassbox
