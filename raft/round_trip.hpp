#pragma once
// How long to wait for a peer's answer before sending again: RFC 6298's retransmission timeout (TCP's), fed by the
// round trips a leader measures from the send times its followers echo. Pure arithmetic, no clock.

#include <algorithm>
#include <cstdint>

namespace coraft::raft {

struct RetransmitLimits {
  std::int64_t min_us = 1'000;      // floor: below it, ordinary jitter would resend what is merely late
  std::int64_t initial_us = 10'000;  // before the first measurement (a vote request, a new leader's first append)
  std::int64_t max_us = 100'000;     // ceiling, and the back-off's: the heartbeat interval, which resends anyway
};

class RoundTrip {
 public:
  // One measured round trip (send to answer). The first sets the average; later ones move it by 1/8 and the
  // variation by 1/4 (RFC 6298 §2).
  void sample(std::int64_t rtt_us) {
    rtt_us = std::max<std::int64_t>(rtt_us, 0);
    if (!measured_) {
      srtt_us_ = rtt_us;
      rttvar_us_ = rtt_us / 2;
      measured_ = true;
      return;
    }
    const std::int64_t error = rtt_us > srtt_us_ ? rtt_us - srtt_us_ : srtt_us_ - rtt_us;
    rttvar_us_ += (error - rttvar_us_) / 4;
    srtt_us_ += (rtt_us - srtt_us_) / 8;
  }

  // The wait before retransmission number `retries` + 1: smoothed round trip plus four variations, doubled per
  // retry already made without an answer, within the limits.
  std::int64_t timeout_us(const RetransmitLimits& limits, int retries) const {
    std::int64_t base = measured_ ? srtt_us_ + 4 * rttvar_us_ : limits.initial_us;
    base = std::clamp(base, limits.min_us, limits.max_us);
    for (int i = 0; i < retries && base < limits.max_us; ++i) base *= 2;
    return std::min(base, limits.max_us);
  }

  bool measured() const { return measured_; }
  std::int64_t smoothed_us() const { return srtt_us_; }
  std::int64_t variation_us() const { return rttvar_us_; }

 private:
  std::int64_t srtt_us_ = 0;
  std::int64_t rttvar_us_ = 0;
  bool measured_ = false;
};

}  // namespace coraft::raft
