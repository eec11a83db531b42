// Bit errors that are delivered, not dropped: the papers' conditioning streams reach the
// generator with flipped bits at the BER the channel gives.
#ifndef GENSEMCOM_BIT_FLIP_ERROR_MODEL_H
#define GENSEMCOM_BIT_FLIP_ERROR_MODEL_H

#include "ns3/error-model.h"
#include "ns3/random-variable-stream.h"

namespace ns3
{

/**
 * Flips each bit after the first ProtectedBytes bytes independently with probability
 * BitErrorRate and always reports the packet as not corrupt, so devices deliver it.
 * Protected bytes model headers that a real system protects separately (or that would make
 * the packet unroutable); set them to the lower-layer + semantic header size.
 */
class BitFlipErrorModel : public ErrorModel
{
  public:
    static TypeId GetTypeId();
    BitFlipErrorModel();

    void SetBitErrorRate(double ber);
    double GetBitErrorRate() const;
    int64_t AssignStreams(int64_t stream);

    /// Bits examined / flipped so far (lets tests and traces measure the realised BER).
    uint64_t GetBitsSeen() const;
    uint64_t GetBitsFlipped() const;

  private:
    bool DoCorrupt(Ptr<Packet> p) override;
    void DoReset() override;

    double m_ber{0.0};
    uint32_t m_protectedBytes{0};
    Ptr<UniformRandomVariable> m_uniform;
    uint64_t m_bitsSeen{0};
    uint64_t m_bitsFlipped{0};
};

} // namespace ns3

#endif
