// The EIDO registries our documents draw values from, as NENA-STA-021.1b-2022 §3 ("IANA
// Actions") lists them: each data element named `…RegistryText` may only hold a value of
// its registry, so the schema (eido.schema.ts) checks against these lists and the
// mapping (eido.mapping.ts) picks from them. Transcribed from the standard's Word text
// in NENA911/EIDO-JSON, branch NENA-STA-021.1b, commit c3b8d2063be63d27ff7e2d3c353c597c71817a1b,
// "Documentation/NENA-STA-021.1b EIDO JSON_2022.docx"; source of each list beside it.
// Only the registries we fill are here (not Person Role, Disposition, Resource Attribute's
// ~500 interpreter languages, …).

/** Table 3-1, "EIDO-AgencyRole". */
export const AGENCY_ROLES = ['Assisting', 'CallReceiving', 'Dispatched', 'Dispatching', 'Informational', 'TransferredTo'] as const;

/**
 * Table 3-2, "EIDO-IncidentType-Common": APCO ANS 2.103.2-2019 common incident types
 * (the table repeats FVEH and MAYDAY and has two empty rows; each code is here once).
 */
export const INCIDENT_TYPES = [
  'NONEMERG', '911H', '911OPN', 'ABDOM', 'ABDUCTF', 'ABDUCTNF', 'ABUSE', 'ACCIND', 'ACTSHOOT', 'ADMIN', 'AIR', 'AIRINC',
  'ALIEN', 'ALLERGIC', 'ALMA', 'ALMB', 'ALMH', 'ALMR', 'ALRBA', 'ALRBOX', 'ALRBS', 'ALRCO', 'ALRCO2', 'ALRDEFIB', 'ALRF',
  'ALRGAS', 'ALRHEAT', 'ALRKPAD', 'ALRMED', 'ALRNGAS', 'ALRPANA', 'ALRPANS', 'ALRPROPN', 'ALRPULL', 'ALRROBA', 'ALRROBS',
  'ALRU', 'ALRVEH', 'ALRWTR', 'ALS', 'ANIMAL', 'ASSAULT', 'ASSIST', 'ATL', 'BACK', 'BARICADE', 'BIO', 'BITE', 'BLDCLPSE',
  'BLEEDING', 'BLS', 'BOMB', 'BRGCLPSE', 'BURGLARY', 'BURN', 'CARDIAC', 'CARJACK', 'CDX', 'CHEMICAL', 'CHESPAIN', 'CHOKE',
  'CITASST', 'CIVDIS', 'CIVIL', 'CNTRFT', 'COURT', 'CRIMPS', 'CRIMTRAF', 'CRWD', 'CU1', 'CU2', 'CU3', 'CURFEW', 'CUST',
  'DEATH', 'DEATHNTF', 'DIABETIC', 'DISORD', 'DISVEH', 'DMPX', 'DROWN', 'DRUGPAR', 'DRUGS', 'DUI', 'DVA', 'DVNA', 'EDP',
  'ELEC', 'ELECHZD', 'ELUDING', 'ENTRAP', 'ESCAPE', 'EXPLOS', 'EXPOSURE', 'EXTORT', 'EYE', 'FAIRC', 'FALL', 'FAM', 'FAPT',
  'FARSON', 'FAS', 'FASX', 'FBRUSH', 'FELEC', 'FFUEL', 'FIGHT', 'FIREWRKS', 'FMARINE', 'FORCENTR', 'FOTHER', 'FRAUD',
  'FREPORT', 'FSMOKE', 'FSTRU', 'FTRAILER', 'FTRAIN', 'FTRASH', 'FTRUCK', 'FUNK', 'FVEH', 'GASLEAK', 'GASLEAKI', 'GASLEAKO',
  'HARR', 'HATE', 'HAZ', 'HAZMAT', 'HEADACHE', 'HEMRG', 'HLP1', 'HLP2', 'HOLD', 'HOMICIDE', 'HOSTAGE', 'IMP', 'INDECENT',
  'INFO', 'INTERNET', 'INTOX', 'INVEST', 'JUV', 'LARCENY', 'LIQUOR', 'MAJORINC', 'MAYDAY', 'MCI', 'MISBOATR', 'MISCON',
  'MNTL', 'MTLV', 'MVA', 'MVAHR', 'MVAINJY', 'MVAUNK', 'MVCP', 'NCIC', 'NCRASLTWF', 'NCRCPRF', 'NCRELEV', 'NCRFACTR',
  'NCRMUAIDF', 'NCRNDE', 'NCRNONE', 'NCRTASKFORCE', 'NCRTESTF', 'NCRTRANS', 'NEGLECT', 'NOISE', 'OD', 'ODOR', 'OPEN',
  'ORDERV', 'PANDEMIC', 'PARKING', 'PERFND', 'PERMISS', 'PERSUSP', 'PERUNCON', 'PERWANT', 'PHANDLE', 'PREG', 'PROPFND',
  'PROPLOST', 'PROPSTLN', 'PROW', 'PUBWKS', 'PURSUIT', 'RADIAT', 'RECKDRV', 'REPO', 'RESCUE', 'RESIST', 'RESP', 'RESPARR',
  'ROBBERY', 'RUNAWAY', 'SAR', 'SCH', 'SCRM', 'SEIZURE', 'SEXOFFNS', 'SHOOT', 'SHOPLIFT', 'SICK', 'SLMP', 'SMOKING', 'SOL',
  'STABBING', 'STDBY', 'STKX', 'STROKE', 'SUBJSTP', 'SUICIDE', 'SUICTHRT', 'SUSP', 'TERROR', 'THAZ', 'THREATS', 'TOW',
  'TRAIN', 'TRAINDRL', 'TRANSFER', 'TRAUMA', 'TRAUMAP', 'TRESPASS', 'TROUBLE', 'TRUANT', 'TSTOP', 'VAG', 'VANDAL',
  'VEHABND', 'VEHASST', 'VEHLOCK', 'VEHREC', 'VEHSTLN', 'VEHSUSP', 'VICE', 'WARRANT', 'WATER', 'WEAPON', 'WELFARE',
  'WILDLIFE', 'WIRES', 'XTRICATE',
] as const;

/** Table 3-3, "EIDO-IncidentStatus-Common". */
export const INCIDENT_STATUSES = [
  'Active', 'Cancelled', 'Closed', 'FireUnderControl', 'NewLocation', 'ReOpened', 'ResourcesAssigned', 'ResourcesEnroute',
  'ResourcesOnscene', 'StructureCleared',
] as const;

/** Table 3-8, "EIDO-LocationType". */
export const LOCATION_TYPES = [
  'RoutingLocation', 'Caller', 'CurrentIncident', 'InitialIncident', 'Investigation', 'Other', 'Staging', 'TowerLocation',
  'UnitLocation',
] as const;

/** Table 3-9, "EIDO-PrimaryUnitStatus-Common". */
export const PRIMARY_UNIT_STATUSES = ['Available', 'ConditionallyAvailable', 'NotAvailable'] as const;

/** Table 3-10, "EIDO-SecondaryUnitStatus-Common". */
export const SECONDARY_UNIT_STATUSES = [
  'AcknowledgedTransmission', 'AlternateLocation', 'Arrived', 'Assigned', 'AssignmentCancelled', 'BacktoAssignedArea',
  'Backup', 'Break', 'CheckedIn', 'Cleared', 'COP_or_POP', 'Court', 'CoveringAlternateArea', 'Delayed', 'Departed',
  'Dispatched', 'EnRoute', 'EquipmentIssues', 'Event', 'Hospital', 'InService', 'Investigation', 'Location', 'Meal',
  'Meeting', 'OffDuty', 'OnDuty', 'OnScene', 'OutofService', 'PatientContact', 'Post', 'ResponderInitiatedEvent', 'RollCall',
  'Roster', 'ShiftPending', 'Staging', 'Station', 'TrafficStop', 'Training', 'Transporting', 'Unmanned',
] as const;

/** Table 3-11, "EIDO-EmergencyResourceType-Common". */
export const EMERGENCY_RESOURCE_TYPES = [
  'AirAmbulanceFixedWing', 'AirAmbulanceRotaryWing', 'AirSearchTeam', 'AirborneCommunicationRelayTeamFixed',
  'FixedWingAircraft', 'RotaryWingAircraft', 'AirborneTransportTeamFixedWing', 'AirCompressor', 'AirConditioner-Heater', 'ATV',
  'GroundALSAmbulance', 'LargeAnimalRescueTeam', 'LargeAnimalShelteringTeam', 'LargeAnimalTransportTeam',
  'SmallAnimalRescueTeam', 'SmallAnimalShelteringTeam', 'SmallAnimalTransportTeam', 'AssaultHomicideUnit',
  'GroundBLSAmbulance', 'BikeTeam', 'BombSquad', 'BrushFireEngineType3', 'BrushFireEngineType4', 'BrushFireEngineType5',
  'BrushFireEngineType6', 'BrushFireEngineType7', 'Bus', 'CanineSearchandRescue', 'DisasterCollapsedStructureCanineTech',
  'CaveSearchandRescue', 'CivilServiceOfficer', 'CoastGuard', 'CollapseSearchandRescue', 'CommandLevel4', 'CommandLevel3',
  'CommandLevel2', 'CommandLevel1', 'CommSupportTeam', 'CommunityPolicingUnit', 'Crane', 'CrisisInterventionUnit',
  'ResponderCrewTransport', 'DetoxTransport', 'UnmannedAerialVehicle', 'ElectronicBoard', 'FireBoat', 'FireTruckLadder',
  'FireFoamTender', 'FoamTank', 'ForensicEvidence', 'FuelTender', 'GangEnforcement', 'HazMatTeam', 'FireHelicopter',
  'HeavyRescue', 'IncidentManagementTeam', 'Investigator', 'LawEnforcementCommandUnit', 'PatrolUnit', 'SchoolOfficer',
  'LightRescue', 'MaintenanceandRepairTeam', 'ParkingEnforcement', 'MobileCommunicationCenter', 'MobileSupportVehicle',
  'CrowdControlTeam', 'MountedPatrol', 'MountainSearchandRescueTeam', 'MedicalTransportVehicle', 'ParkRanger', 'DiveTeam',
  'RapidResponseSpecialist', 'RoadSweeper', 'SafetyOfficer', 'SnowBlower', 'SnowCat', 'StructureFireEngineType1',
  'StructureFireEngineType2', 'SWAT', 'SwiftwaterRescueTeam', 'VehicularCrimesTeam', 'Veterinarian', 'WaterRescueTeam',
  'TrafficUnit', 'TransitOfficer', 'DumpTruck', 'TowTruck', 'PlowTruck', 'TugBoat', 'VictimAdvocate', 'DeWateringWaterPump',
  'WasteWaterPump', 'FireWaterTender', 'WaterTruck', 'WheelDozer', 'WheelLoaderBackhoe', 'WheelLoader',
  'WheelLoaderSkidSteer', 'WoodChipper', 'WildlandTaskForce', 'StrikeTeam', 'HotShotTeam',
] as const;

/**
 * Table 3-12, "EIDO-ResourceAttribute": only the values our skill mapping uses (the
 * registry has 535 rows, 459 of them language interpreters).
 */
export const RESOURCE_ATTRIBUTES_USED = ['EMT', 'Firefighter', 'HazMatOfficer'] as const;
