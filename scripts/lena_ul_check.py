"""ns-3's own LENA set-up, outside gensemcom's scenario: lena-simple-epc.cc (1 eNB, N UEs, EPC,
a remote host, UdpClient up- and downlink every 100 ms, PF scheduler, Friis path loss, no fading)
with ns-3's own PHY statistics (LteHelper::EnablePhyTraces -> UlRxPhyStats.txt, one line per
TB with its 'correct' flag). Shows that stock ns-3 reports unused UL grants as failed TBs, with
and without the extension's link adaptation (docs/lte_uplink.md):

    .venv/bin/python scripts/lena_ul_check.py --ues 20 [--rlc am] [--olla]

Prints ns-3's UL "BLER" from UlRxPhyStats.txt, then the same TBs split by the extension's
trace into real TBs and allocations that carried no PDU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ues", type=int, default=20)
    ap.add_argument("--sim-s", type=float, default=2.0)
    ap.add_argument("--interval-ms", type=float, default=100.0, help="UdpClient interval (lena-simple-epc: 100 ms)")
    ap.add_argument("--size", type=int, default=1024, help="UdpClient packet size (ns-3 default 1024 B)")
    ap.add_argument("--olla", action="store_true", help="wrap PF in ns3::OllaFfMacScheduler")
    ap.add_argument("--rlc", choices=["sm", "um", "am"], default="sm",
                    help="RLC of the bearers (ns-3's default mapping: sm, as in the example; gensemcom: am)")
    args = ap.parse_args()

    from gensemcom.analysis.lte_stats import tb_stats
    from gensemcom.core import packet_trace
    from gensemcom.core.ns3 import load_ns, reset

    ns = load_ns()
    g = ns.cppyy.gbl.ns3
    trace = reset(ns, 1)
    ns.Config.SetDefault("ns3::LteEnbRrc::EpsBearerToRlcMapping",
                         ns.StringValue({"sm": "RlcSmAlways", "um": "RlcUmAlways", "am": "RlcAmAlways"}[args.rlc]))
    lte = ns.CreateObject[ns.LteHelper]()
    epc = ns.CreateObject[ns.PointToPointEpcHelper]()
    lte.SetEpcHelper(epc)
    if args.olla:
        lte.SetSchedulerType("ns3::OllaFfMacScheduler")
    ns.Config.SetDefault("ns3::LteEnbRrc::SrsPeriodicity", ns.UintegerValue(40 if args.ues < 40 else 80))

    pgw = epc.GetPgwNode()
    hosts = ns.NodeContainer()
    hosts.Create(1)
    internet = ns.InternetStackHelper()
    internet.Install(hosts)
    p2p = ns.PointToPointHelper()
    p2p.SetDeviceAttribute("DataRate", ns.StringValue("100Gb/s"))
    p2p.SetChannelAttribute("Delay", ns.TimeValue(ns.MilliSeconds(10)))
    devs = p2p.Install(pgw, hosts.Get(0))
    ipv4h = ns.Ipv4AddressHelper()
    ipv4h.SetBase(ns.Ipv4Address("1.0.0.0"), ns.Ipv4Mask("255.0.0.0"))
    ifs = ipv4h.Assign(devs)
    remote = ifs.GetAddress(1)
    routing = ns.Ipv4StaticRoutingHelper()
    routing.GetStaticRouting(hosts.Get(0).GetObject[ns.Ipv4]()).AddNetworkRouteTo(
        ns.Ipv4Address("7.0.0.0"), ns.Ipv4Mask("255.0.0.0"), 1)

    enbs, ues = ns.NodeContainer(), ns.NodeContainer()
    enbs.Create(1)
    ues.Create(args.ues)
    pos = ns.CreateObject[ns.ListPositionAllocator]()
    pos.Add(ns.Vector(0, 0, 0))
    for i in range(args.ues):
        pos.Add(ns.Vector(60.0 * (i + 1), 0, 0))  # lena-simple-epc: 60 m apart on a line
    mob = ns.MobilityHelper()
    mob.SetMobilityModel("ns3::ConstantPositionMobilityModel")
    mob.SetPositionAllocator(pos)
    mob.Install(enbs)
    mob.Install(ues)
    enb_devs = lte.InstallEnbDevice(enbs)
    ue_devs = lte.InstallUeDevice(ues)
    internet.Install(ues)
    ue_ifs = epc.AssignUeIpv4Address(ue_devs)
    for i in range(args.ues):
        routing.GetStaticRouting(ues.Get(i).GetObject[ns.Ipv4]()).SetDefaultRoute(
            epc.GetUeDefaultGatewayAddress(), 1)
    lte.Attach(ue_devs, enb_devs.Get(0))
    cc = enb_devs.Get(0).GetObject[ns.LteEnbNetDevice]().GetCcMap()[0]
    scheduler = str(cc.GetObject[g.ComponentCarrierEnb]().GetFfMacScheduler().GetInstanceTypeId().GetName())

    apps = ns.ApplicationContainer()
    interval = ns.Time(ns.MilliSeconds(int(args.interval_ms)))
    for i in range(args.ues):
        ul_port, dl_port = 2000 + i, 1234
        apps.Add(ns.PacketSinkHelper("ns3::UdpSocketFactory",
                                     ns.InetSocketAddress(ns.Ipv4Address.GetAny(), dl_port).ConvertTo()).Install(ues.Get(i)))
        apps.Add(ns.PacketSinkHelper("ns3::UdpSocketFactory",
                                     ns.InetSocketAddress(ns.Ipv4Address.GetAny(), ul_port).ConvertTo()).Install(hosts.Get(0)))
        dl = ns.UdpClientHelper(ue_ifs.GetAddress(i).ConvertTo(), dl_port)
        dl.SetAttribute("Interval", ns.TimeValue(interval))
        dl.SetAttribute("MaxPackets", ns.UintegerValue(1000000))
        dl.SetAttribute("PacketSize", ns.UintegerValue(args.size))
        ul = ns.UdpClientHelper(remote.ConvertTo(), ul_port)
        ul.SetAttribute("Interval", ns.TimeValue(interval))
        ul.SetAttribute("MaxPackets", ns.UintegerValue(1000000))
        ul.SetAttribute("PacketSize", ns.UintegerValue(args.size))
        apps.Add(dl.Install(hosts.Get(0)))
        apps.Add(ul.Install(ues.Get(i)))
    apps.Start(ns.Seconds(0.5))

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="lena-ul-") as out:  # ns-3 writes its PHY stats to the cwd
        os.chdir(out)
        try:
            lte.EnablePhyTraces()
            trace.ConnectLtePhy()
            ns.Simulator.Stop(ns.Seconds(args.sim_s))
            ns.Simulator.Run()
            packets = packet_trace.table(trace)
            ns.Simulator.Destroy()
            ul_ns3 = pd.read_csv(Path(out) / "UlRxPhyStats.txt", sep="\t")
        finally:
            os.chdir(cwd)

    ok_col = [c for c in ul_ns3.columns if c.lower().startswith("correct")][0]
    ndi_col = [c for c in ul_ns3.columns if c.lower() == "ndi"][0]
    first = ul_ns3[ul_ns3[ndi_col] == 1]
    stats = tb_stats(packets)
    print(json.dumps({
        "ues": args.ues, "scheduler": scheduler, "rlc": args.rlc, "interval_ms": args.interval_ms,
        "packet_bytes": args.size,
        "ns3_UlRxPhyStats": {"tbs": len(ul_ns3), "failed": int((ul_ns3[ok_col] == 0).sum()),
                             "first_tx_bler": round(float((first[ok_col] == 0).mean()), 4),
                             "retransmissions": int((ul_ns3[ndi_col] == 0).sum())},
        "split": {d: {k: stats[d][k] for k in ("tbs", "first_tx_bler", "harq_retransmissions",
                                               "failed_not_retransmitted", "empty_allocations")}
                  for d in ("ul", "dl")},
    }, indent=1))


if __name__ == "__main__":
    main()
