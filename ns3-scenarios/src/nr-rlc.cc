#include "gensemcom/nr-rlc.h"

#include "ns3/log.h"

#include <algorithm>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrRlc");

namespace
{
constexpr uint32_t kFullBufferSdu = 1 << 20; ///< size of the dummy SDUs of a full buffer
} // namespace

NrRlcEntity::NrRlcEntity(NrRlcMode mode,
                         uint32_t stream,
                         uint32_t headerBytes,
                         uint64_t maxBufferBytes)
    : m_mode(mode),
      m_stream(stream),
      m_header(headerBytes),
      m_maxBuffer(maxBufferBytes)
{
}

NrRlcMode
NrRlcEntity::GetMode() const
{
    return m_mode;
}

bool
NrRlcEntity::Enqueue(std::shared_ptr<NrRlcSdu> sdu)
{
    if (m_queueBytes + sdu->size > m_maxBuffer)
    {
        NS_LOG_LOGIC("stream " << m_stream << ": buffer full, SDU of " << sdu->size
                               << " bytes rejected");
        return false;
    }
    m_queueBytes += sdu->size;
    m_queue.push_back(std::move(sdu));
    return true;
}

void
NrRlcEntity::SetFullBuffer(bool on)
{
    m_fullBuffer = on;
}

bool
NrRlcEntity::IsFullBuffer() const
{
    return m_fullBuffer;
}

uint64_t
NrRlcEntity::GetBufferBytes() const
{
    if (m_fullBuffer)
    {
        return uint64_t(1) << 40;
    }
    return m_queueBytes + m_retxBytes + uint64_t(m_header) * (m_queue.size() + m_retx.size());
}

uint32_t
NrRlcEntity::Fill(uint32_t bytes, std::vector<NrRlcSegment>& out)
{
    uint32_t used = 0;
    // AM retransmissions first; a segment that does not fit whole is re-segmented.
    while (!m_retx.empty() && bytes - used > m_header)
    {
        NrRlcSegment& s = m_retx.front();
        const uint32_t take = std::min(s.length, bytes - used - m_header);
        out.push_back(NrRlcSegment{s.sdu, s.offset, take, m_stream});
        used += m_header + take;
        m_retxBytes -= take;
        if (take == s.length)
        {
            m_retx.pop_front();
        }
        else
        {
            s.offset += take;
            s.length -= take;
        }
    }
    while (bytes - used > m_header)
    {
        if (m_queue.empty())
        {
            if (!m_fullBuffer)
            {
                break;
            }
            auto sdu = std::make_shared<NrRlcSdu>();
            sdu->stream = m_stream;
            sdu->size = kFullBufferSdu;
            m_queue.push_back(sdu);
            m_queueBytes += sdu->size;
        }
        auto& head = m_queue.front();
        const uint32_t left = head->size - m_headOffset;
        const uint32_t take = std::min(left, bytes - used - m_header);
        out.push_back(NrRlcSegment{head, m_headOffset, take, m_stream});
        used += m_header + take;
        m_queueBytes -= take;
        if (take == left)
        {
            m_queue.pop_front();
            m_headOffset = 0;
        }
        else
        {
            m_headOffset += take;
        }
    }
    return used;
}

bool
NrRlcEntity::OnLost(const NrRlcSegment& segment)
{
    if (!segment.sdu->packet)
    {
        return false; // full-buffer data is not worth resending
    }
    if (m_mode == NrRlcMode::AM)
    {
        m_retx.push_back(segment);
        m_retxBytes += segment.length;
        return true;
    }
    segment.sdu->lost = true;
    return false;
}

bool
NrRlcEntity::OnReceived(const NrRlcSegment& segment)
{
    NrRlcSdu& sdu = *segment.sdu;
    sdu.rxBytes += segment.length;
    return sdu.packet && !sdu.lost && sdu.rxBytes == sdu.size;
}

} // namespace ns3
