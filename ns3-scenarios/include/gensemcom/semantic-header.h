// Framing for semantic units: every packet carries one segment of one stream of one unit.
#ifndef GENSEMCOM_SEMANTIC_HEADER_H
#define GENSEMCOM_SEMANTIC_HEADER_H

#include "ns3/header.h"

#include <cstdint>

namespace ns3
{

/**
 * Semantic segment header (28 bytes, network byte order):
 * magic(2) version(1) flags(1) unit(4) stream(1) nStreams(1) seq(2) nSeg(2)
 * offset(4) streamLength(4) streamCrc32(4) payloadLength(2).
 * The stream CRC (ns-3's CRC32Calculate: IEEE 802.3, the values of Python's zlib.crc32) lets
 * the receiver tell corrupted-but-delivered streams from intact ones.
 */
class SemanticHeader : public Header
{
  public:
    static constexpr uint16_t kMagic = 0x5343; // "SC"
    static constexpr uint8_t kVersion = 1;
    static constexpr uint32_t kSize = 28;

    static TypeId GetTypeId();
    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(Buffer::Iterator start) const override;
    uint32_t Deserialize(Buffer::Iterator start) override;
    void Print(std::ostream& os) const override;

    /// True when magic and version match (a corrupted header is rejected, not trusted).
    bool IsValid() const;

    uint16_t magic{kMagic};
    uint8_t version{kVersion};
    uint8_t flags{0};
    uint32_t unit{0};
    uint8_t stream{0};
    uint8_t nStreams{1};
    uint16_t seq{0};
    uint16_t nSeg{1};
    uint32_t offset{0};
    uint32_t streamLength{0};
    uint32_t streamCrc{0};
    uint16_t payloadLength{0};
};

} // namespace ns3

#endif
