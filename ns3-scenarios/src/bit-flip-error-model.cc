#include "gensemcom/bit-flip-error-model.h"

#include "ns3/double.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/pointer.h"
#include "ns3/uinteger.h"

#include <cmath>
#include <vector>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("BitFlipErrorModel");
NS_OBJECT_ENSURE_REGISTERED(BitFlipErrorModel);

TypeId
BitFlipErrorModel::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::BitFlipErrorModel")
            .SetParent<ErrorModel>()
            .SetGroupName("Gensemcom")
            .AddConstructor<BitFlipErrorModel>()
            .AddAttribute("BitErrorRate",
                          "Probability that each unprotected bit is flipped.",
                          DoubleValue(0.0),
                          MakeDoubleAccessor(&BitFlipErrorModel::SetBitErrorRate,
                                             &BitFlipErrorModel::GetBitErrorRate),
                          MakeDoubleChecker<double>(0.0, 0.5))
            .AddAttribute("ProtectedBytes",
                          "Leading bytes never flipped (headers protected by lower layers).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&BitFlipErrorModel::m_protectedBytes),
                          MakeUintegerChecker<uint32_t>());
    return tid;
}

BitFlipErrorModel::BitFlipErrorModel()
    : m_uniform(CreateObject<UniformRandomVariable>())
{
    NS_LOG_FUNCTION(this);
}

void
BitFlipErrorModel::SetBitErrorRate(double ber)
{
    m_ber = ber;
}

double
BitFlipErrorModel::GetBitErrorRate() const
{
    return m_ber;
}

int64_t
BitFlipErrorModel::AssignStreams(int64_t stream)
{
    NS_LOG_FUNCTION(this << stream);
    m_uniform->SetStream(stream);
    return 1;
}

uint64_t
BitFlipErrorModel::GetBitsSeen() const
{
    return m_bitsSeen;
}

uint64_t
BitFlipErrorModel::GetBitsFlipped() const
{
    return m_bitsFlipped;
}

bool
BitFlipErrorModel::DoCorrupt(Ptr<Packet> p)
{
    NS_LOG_FUNCTION(this << p);
    const uint32_t size = p->GetSize();
    if (size <= m_protectedBytes)
    {
        return false;
    }
    const uint32_t nBytes = size - m_protectedBytes;
    const uint64_t nBits = uint64_t(nBytes) * 8;
    m_bitsSeen += nBits;
    if (m_ber <= 0.0)
    {
        return false;
    }
    std::vector<uint8_t> buf(size);
    p->CopyData(buf.data(), size);
    // Geometric gaps between flipped bits: O(#flips) draws instead of one draw per bit.
    const double logq = std::log1p(-m_ber);
    uint64_t flipsHere = 0;
    double pos = -1.0;
    while (true)
    {
        const double u = m_uniform->GetValue(0.0, 1.0);
        pos += 1.0 + std::floor(std::log1p(-u) / logq);
        if (pos >= double(nBits))
        {
            break;
        }
        const uint64_t bit = static_cast<uint64_t>(pos);
        buf[m_protectedBytes + bit / 8] ^= static_cast<uint8_t>(0x80U >> (bit % 8));
        ++flipsHere;
    }
    if (flipsHere > 0)
    {
        // Replace only the unprotected tail so packet tags and header metadata survive.
        p->RemoveAtEnd(nBytes);
        p->AddAtEnd(Create<Packet>(buf.data() + m_protectedBytes, nBytes));
        m_bitsFlipped += flipsHere;
    }
    NS_LOG_LOGIC(flipsHere << " of " << nBits << " bits flipped at BER " << m_ber);
    return false;
}

void
BitFlipErrorModel::DoReset()
{
    NS_LOG_FUNCTION(this);
    m_bitsSeen = 0;
    m_bitsFlipped = 0;
}

} // namespace ns3
