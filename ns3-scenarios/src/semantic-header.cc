#include "gensemcom/semantic-header.h"

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(SemanticHeader);

TypeId
SemanticHeader::GetTypeId()
{
    static TypeId tid = TypeId("ns3::SemanticHeader")
                            .SetParent<Header>()
                            .SetGroupName("Gensemcom")
                            .AddConstructor<SemanticHeader>();
    return tid;
}

TypeId
SemanticHeader::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
SemanticHeader::GetSerializedSize() const
{
    return kSize;
}

void
SemanticHeader::Serialize(Buffer::Iterator i) const
{
    i.WriteHtonU16(magic);
    i.WriteU8(version);
    i.WriteU8(flags);
    i.WriteHtonU32(unit);
    i.WriteU8(stream);
    i.WriteU8(nStreams);
    i.WriteHtonU16(seq);
    i.WriteHtonU16(nSeg);
    i.WriteHtonU32(offset);
    i.WriteHtonU32(streamLength);
    i.WriteHtonU32(streamCrc);
    i.WriteHtonU16(payloadLength);
}

uint32_t
SemanticHeader::Deserialize(Buffer::Iterator i)
{
    magic = i.ReadNtohU16();
    version = i.ReadU8();
    flags = i.ReadU8();
    unit = i.ReadNtohU32();
    stream = i.ReadU8();
    nStreams = i.ReadU8();
    seq = i.ReadNtohU16();
    nSeg = i.ReadNtohU16();
    offset = i.ReadNtohU32();
    streamLength = i.ReadNtohU32();
    streamCrc = i.ReadNtohU32();
    payloadLength = i.ReadNtohU16();
    return kSize;
}

bool
SemanticHeader::IsValid() const
{
    return magic == kMagic && version == kVersion && nSeg > 0 && seq < nSeg && nStreams > 0 &&
           stream < nStreams + 64 && static_cast<uint64_t>(offset) + payloadLength <= streamLength;
}

void
SemanticHeader::Print(std::ostream& os) const
{
    os << "unit=" << unit << " stream=" << unsigned(stream) << "/" << unsigned(nStreams)
       << " seq=" << seq << "/" << nSeg << " off=" << offset << " len=" << payloadLength << "/"
       << streamLength << " crc=" << streamCrc;
}

} // namespace ns3
