// RLC of the NR cell (issue 14, step 2b): one entity per UE, direction and stream segments IP
// packets (SDUs) into the transport blocks the MAC schedules and reassembles them at the
// receiver. Acknowledged mode resends a segment whose TB HARQ gave up on; unacknowledged mode
// drops the packet instead. Plain C++ objects owned by NrCellChannel (not ns-3 Objects).
#ifndef GENSEMCOM_NR_RLC_H
#define GENSEMCOM_NR_RLC_H

#include "ns3/nstime.h"
#include "ns3/packet.h"
#include "ns3/ptr.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace ns3
{

/// RLC mode of an entity (38.322): acknowledged (ARQ) or unacknowledged.
enum class NrRlcMode : uint8_t
{
    UM = 0,
    AM = 1,
};

/// An IP packet in RLC, with the receiver's reassembly state (the simulation knows both ends).
struct NrRlcSdu
{
    Ptr<Packet> packet;   ///< null for the endless data of a full-buffer entity
    uint16_t protocol{0}; ///< of the packet (IPv4)
    uint32_t stream{0};
    uint32_t size{0};     ///< bytes
    Time arrival;         ///< when the device took it from the IP stack
    uint32_t rxBytes{0};  ///< bytes the receiver holds
    bool lost{false};     ///< UM: a segment was lost, the packet is dropped
    bool counted{false};  ///< its delivery or drop has been counted
};

/// Bytes [offset, offset + length) of an SDU, in one transport block.
struct NrRlcSegment
{
    std::shared_ptr<NrRlcSdu> sdu;
    uint32_t offset{0};
    uint32_t length{0};
    uint32_t stream{0};
};

/**
 * Transmit side of one RLC entity, and the receiver's reassembly through the shared SDU.
 * Every segment costs HeaderBytes (RLC + MAC subheaders) of the TB besides its payload; a TB
 * takes AM retransmissions first, then new bytes from the head of the queue (the head SDU may
 * be cut: segmentation). Reassembly is complete when all the SDU's bytes have arrived, in any
 * order (out-of-order delivery, no PDCP reordering); status reports are ideal: a segment is
 * known lost when HARQ gives up on its TB.
 */
class NrRlcEntity
{
  public:
    NrRlcEntity(NrRlcMode mode, uint32_t stream, uint32_t headerBytes, uint64_t maxBufferBytes);

    NrRlcMode GetMode() const;
    /// Queues an SDU; false (not queued) when the buffer would exceed maxBufferBytes.
    bool Enqueue(std::shared_ptr<NrRlcSdu> sdu);
    /// Endless data (full-buffer traffic); such segments are counted, never delivered.
    void SetFullBuffer(bool on);
    bool IsFullBuffer() const;
    /// Bytes a TB would need to empty this entity (payload plus one header per segment).
    uint64_t GetBufferBytes() const;
    /// Moves up to `bytes` of TB space into segments (appended to out); returns bytes used.
    uint32_t Fill(uint32_t bytes, std::vector<NrRlcSegment>& out);
    /// HARQ gave up on the TB of this segment: AM queues it again (returns true); UM marks its
    /// SDU lost (returns false).
    bool OnLost(const NrRlcSegment& segment);
    /// A segment arrived intact; true when its SDU is now complete (and not lost).
    static bool OnReceived(const NrRlcSegment& segment);

  private:
    NrRlcMode m_mode;
    uint32_t m_stream;
    uint32_t m_header;
    uint64_t m_maxBuffer;
    bool m_fullBuffer{false};
    std::deque<std::shared_ptr<NrRlcSdu>> m_queue; ///< SDUs not yet wholly segmented
    uint32_t m_headOffset{0};                     ///< bytes of the head SDU already sent
    uint64_t m_queueBytes{0};                     ///< unsent SDU bytes
    std::deque<NrRlcSegment> m_retx;               ///< AM segments to send again
    uint64_t m_retxBytes{0};
};

} // namespace ns3

#endif
