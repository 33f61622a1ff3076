// Registers every firmware's protocol servers (each module calls registerProtocol on import).
// Worker processes import this module unless the simulator is given other protocol modules.
import './antminer-server.ts';
import './luxos-server.ts';
import './braiins-server.ts';
import './whatsminer-server.ts';
