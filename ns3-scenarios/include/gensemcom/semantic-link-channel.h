// The "semantic link" of latency-aware-generative-semcom.md (Sec. II-B, Table I) as an ns-3
// point-to-point NetDevice/Channel pair: every semantic stream has its own orthogonal
// sub-channel (bandwidth B_i, power p_i) with block Rayleigh fading (Eq. 1). This is the
// channel: the path between the two devices (semantic-link-net-device.h).
#ifndef GENSEMCOM_SEMANTIC_LINK_CHANNEL_H
#define GENSEMCOM_SEMANTIC_LINK_CHANNEL_H

#include "ns3/channel.h"
#include "ns3/nstime.h"

#include <cstdint>
#include <vector>

namespace ns3
{

class SemanticLinkNetDevice;

/**
 * Two SemanticLinkNetDevices and the path between them: SNR of a sub-channel is
 * gamma = p |h|^2 eps0 d^-phi / (B N0), |h|^2 ~ Exp(1) (h ~ CN(0,1)) or 1 for "awgn".
 */
class SemanticLinkChannel : public Channel
{
  public:
    enum class Fading
    {
        RAYLEIGH,
        AWGN
    };

    static TypeId GetTypeId();
    SemanticLinkChannel();

    /// Connects a device; a link has exactly two (a third: std::invalid_argument).
    void Attach(Ptr<SemanticLinkNetDevice> device);
    std::size_t GetNDevices() const override;
    Ptr<NetDevice> GetDevice(std::size_t i) const override;
    Ptr<SemanticLinkNetDevice> GetPeer(Ptr<const SemanticLinkNetDevice> device) const;

    /// eps0 d^-phi (linear).
    double GetPathGain() const;
    /// SNR at |h|^2 = 1: p eps0 d^-phi / (B N0).
    double GetMeanSnr(double powerW, double bandwidthHz) const;
    bool IsFading() const;
    Time GetDelay() const;

  private:
    void DoDispose() override;

    std::vector<Ptr<SemanticLinkNetDevice>> m_devices;
    double m_distance{100.0};
    double m_pathlossRefDb{-30.0};
    double m_pathlossExp{3.4};
    double m_noiseDbmHz{-174.0};
    Fading m_fading{Fading::RAYLEIGH};
    Time m_delay{0};
};

} // namespace ns3

#endif
