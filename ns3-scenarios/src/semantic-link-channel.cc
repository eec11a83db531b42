#include "gensemcom/semantic-link-channel.h"

#include "gensemcom/semantic-link-net-device.h"

#include "ns3/double.h"
#include "ns3/enum.h"
#include "ns3/log.h"

#include <cmath>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("SemanticLinkChannel");
NS_OBJECT_ENSURE_REGISTERED(SemanticLinkChannel);

TypeId
SemanticLinkChannel::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::SemanticLinkChannel")
            .SetParent<Channel>()
            .SetGroupName("Gensemcom")
            .AddConstructor<SemanticLinkChannel>()
            .AddAttribute("Distance",
                          "Transmitter-receiver distance d (m).",
                          DoubleValue(100.0),
                          MakeDoubleAccessor(&SemanticLinkChannel::m_distance),
                          MakeDoubleChecker<double>(1e-3))
            .AddAttribute("PathlossRefDb",
                          "Path loss eps0 at the 1 m reference distance (dB).",
                          DoubleValue(-30.0),
                          MakeDoubleAccessor(&SemanticLinkChannel::m_pathlossRefDb),
                          MakeDoubleChecker<double>())
            .AddAttribute("PathlossExponent",
                          "Path loss exponent phi.",
                          DoubleValue(3.4),
                          MakeDoubleAccessor(&SemanticLinkChannel::m_pathlossExp),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("NoiseDbmHz",
                          "Noise power spectral density N0 (dBm/Hz).",
                          DoubleValue(-174.0),
                          MakeDoubleAccessor(&SemanticLinkChannel::m_noiseDbmHz),
                          MakeDoubleChecker<double>())
            .AddAttribute("Fading",
                          "rayleigh: |h|^2 ~ Exp(1) per block (h ~ CN(0,1)); awgn: |h|^2 = 1.",
                          EnumValue(Fading::RAYLEIGH),
                          MakeEnumAccessor<Fading>(&SemanticLinkChannel::m_fading),
                          MakeEnumChecker(Fading::RAYLEIGH, "rayleigh", Fading::AWGN, "awgn"))
            .AddAttribute("PropagationDelay",
                          "Delay added after the last bit of a packet is sent.",
                          TimeValue(Seconds(0)),
                          MakeTimeAccessor(&SemanticLinkChannel::m_delay),
                          MakeTimeChecker(Seconds(0)));
    return tid;
}

SemanticLinkChannel::SemanticLinkChannel()
{
    NS_LOG_FUNCTION(this);
}

void
SemanticLinkChannel::Attach(Ptr<SemanticLinkNetDevice> device)
{
    NS_LOG_FUNCTION(this << device);
    if (m_devices.size() >= 2)
    {
        throw std::invalid_argument(
            "SemanticLinkChannel::Attach: a link joins exactly two devices");
    }
    m_devices.push_back(device);
}

std::size_t
SemanticLinkChannel::GetNDevices() const
{
    return m_devices.size();
}

Ptr<NetDevice>
SemanticLinkChannel::GetDevice(std::size_t i) const
{
    return m_devices.at(i);
}

Ptr<SemanticLinkNetDevice>
SemanticLinkChannel::GetPeer(Ptr<const SemanticLinkNetDevice> device) const
{
    for (const auto& d : m_devices)
    {
        if (d != device)
        {
            return d;
        }
    }
    return nullptr;
}

double
SemanticLinkChannel::GetPathGain() const
{
    return std::pow(10.0, m_pathlossRefDb / 10.0) * std::pow(m_distance, -m_pathlossExp);
}

double
SemanticLinkChannel::GetMeanSnr(double powerW, double bandwidthHz) const
{
    const double n0 = std::pow(10.0, m_noiseDbmHz / 10.0) * 1e-3; // W/Hz
    return powerW * GetPathGain() / (bandwidthHz * n0);
}

bool
SemanticLinkChannel::IsFading() const
{
    return m_fading == Fading::RAYLEIGH;
}

Time
SemanticLinkChannel::GetDelay() const
{
    return m_delay;
}

void
SemanticLinkChannel::DoDispose()
{
    NS_LOG_FUNCTION(this);
    m_devices.clear();
    Channel::DoDispose();
}

} // namespace ns3
