package bench

// Fixed vocabularies the generator draws from. Everything here is read-only
// after package initialisation; users and products refer to entries by index.

// country is where a simulated user lives: it fixes their locale, time zone,
// phone numbering and names.
type country struct {
	code   string
	locale string
	weight float64 // share of users, relative
	names  int     // index into firstNames/lastNames
	zones  []string
	// phones are E.164 prefixes without "+"; digits random digits follow,
	// the first of them 2-9.
	phones []string
	digits int
}

var countries = [...]country{
	{"US", "en-US", 35, 0, []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix"}, []string{"1212", "1310", "1312", "1415", "1512", "1617", "1206", "1305", "1404", "1702"}, 7},
	{"GB", "en-GB", 10, 0, []string{"Europe/London"}, []string{"447"}, 9},
	{"DE", "de-DE", 8, 1, []string{"Europe/Berlin"}, []string{"49151", "49160", "49170", "49176"}, 8},
	{"FR", "fr-FR", 7, 2, []string{"Europe/Paris"}, []string{"336", "337"}, 8},
	{"CA", "en-CA", 5, 0, []string{"America/Toronto", "America/Vancouver", "America/Edmonton"}, []string{"1416", "1604", "1514", "1403"}, 7},
	{"BR", "pt-BR", 8, 4, []string{"America/Sao_Paulo", "America/Manaus"}, []string{"55119", "55219"}, 8},
	{"MX", "es-MX", 5, 3, []string{"America/Mexico_City", "America/Monterrey"}, []string{"5255", "5281"}, 8},
	{"ES", "es-ES", 4, 3, []string{"Europe/Madrid"}, []string{"346"}, 8},
	{"NL", "nl-NL", 3, 5, []string{"Europe/Amsterdam"}, []string{"316"}, 8},
	{"IN", "en-IN", 8, 6, []string{"Asia/Kolkata"}, []string{"919", "918", "917"}, 9},
	{"JP", "ja-JP", 4, 7, []string{"Asia/Tokyo"}, []string{"8190", "8180"}, 8},
	{"AU", "en-AU", 3, 0, []string{"Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane", "Australia/Perth"}, []string{"614"}, 8},
}

var firstNames = [...][10]string{
	{"Olivia", "Liam", "Emma", "Noah", "Ava", "James", "Sophia", "Lucas", "Mia", "Ethan"},
	{"Lena", "Finn", "Mia", "Paul", "Hannah", "Jonas", "Emilia", "Felix", "Lea", "Leon"},
	{"Louise", "Gabriel", "Jade", "Raphael", "Emma", "Louis", "Alice", "Arthur", "Chloe", "Hugo"},
	{"Lucia", "Hugo", "Sofia", "Martin", "Martina", "Pablo", "Valeria", "Mateo", "Paula", "Daniel"},
	{"Ana", "Miguel", "Helena", "Arthur", "Alice", "Heitor", "Laura", "Davi", "Julia", "Gael"},
	{"Emma", "Noah", "Julia", "Liam", "Mila", "Luuk", "Tess", "Sem", "Sophie", "Lucas"},
	{"Aarav", "Ananya", "Vivaan", "Diya", "Aditya", "Saanvi", "Arjun", "Isha", "Rohan", "Priya"},
	{"Haruto", "Yui", "Sota", "Hina", "Yuto", "Aoi", "Riku", "Mei", "Sora", "Rin"},
}

var lastNames = [...][10]string{
	{"Smith", "Johnson", "Brown", "Taylor", "Miller", "Davis", "Wilson", "Clark", "Lewis", "Walker"},
	{"Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"},
	{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"},
	{"Garcia", "Rodriguez", "Gonzalez", "Fernandez", "Lopez", "Martinez", "Sanchez", "Perez", "Gomez", "Ruiz"},
	{"Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes"},
	{"Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters", "Hendriks"},
	{"Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Das", "Mehta"},
	{"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato"},
}

// Reserved example domains: generated addresses can never reach anyone.
var emailDomains = [...]string{"example.com", "example.net", "example.org"}

// Platforms of simulated users.
const (
	platformIOS uint8 = iota
	platformAndroid
	platformWeb
)

type device struct {
	manufacturer, model string
}

var iosDevices = [...]device{
	{"Apple", "iPhone14,5"}, {"Apple", "iPhone15,2"}, {"Apple", "iPhone15,4"},
	{"Apple", "iPhone16,1"}, {"Apple", "iPhone17,3"}, {"Apple", "iPad13,18"},
}

var androidDevices = [...]device{
	{"samsung", "SM-S918B"}, {"samsung", "SM-A546B"}, {"Google", "Pixel 8"},
	{"Google", "Pixel 9 Pro"}, {"Xiaomi", "23049PCD8G"}, {"OnePlus", "CPH2581"},
}

var iosVersions = [...]string{"17.5.1", "17.6.1", "18.1", "18.3.2", "18.5", "26.0.1"}
var androidVersions = [...]string{"12", "13", "14", "15", "16"}
var appVersions = [...]string{"5.0.3", "5.1.0", "5.2.1", "5.3.0"}
var appBuilds = [...]string{"5003", "5100", "5201", "5300"}

// userAgents are as browsers send them today (Chrome's reduced user agent).
var userAgents = [...]string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
}

const (
	appName  = "Rekindle Shop"
	shopURL  = "https://shop.example.com"
	currency = "USD"
)

// screens and pages visited outside product views.
var appScreens = [...]string{"Home", "Search", "Category", "Wishlist", "Account", "Orders"}

type webPage struct{ name, path, title string }

var webPages = [...]webPage{
	{"Home", "/", "Rekindle Shop"},
	{"Collection", "/collections/new", "New Arrivals | Rekindle Shop"},
	{"Collection", "/collections/sale", "Sale | Rekindle Shop"},
	{"Search", "/search?q=linen", "Search: linen | Rekindle Shop"},
	{"Account", "/account", "Your Account | Rekindle Shop"},
	{"Orders", "/account/orders", "Your Orders | Rekindle Shop"},
}

var referrers = [...]string{"", "https://www.google.com/", "https://www.instagram.com/", "https://www.bing.com/", ""}

// Catalogue: product i is productAdjectives[i%a] productNouns[(i/a)%n] in
// productCategories[i%c], priced productPrices[...] (US cents).
const catalogSize = 1000

var productAdjectives = [...]string{"Classic", "Everyday", "Organic", "Vintage", "Ultralight", "Recycled", "Premium", "Compact", "Cozy", "Waterproof", "Minimal", "Handmade"}
var productNouns = [...]string{"Linen Shirt", "Running Shoes", "Coffee Grinder", "Backpack", "Desk Lamp", "Wool Scarf", "Yoga Mat", "Water Bottle", "Headphones", "Face Serum", "Throw Blanket", "Rain Jacket", "Chef Knife", "Sunglasses", "Notebook"}
var productCategories = [...]string{"Apparel", "Footwear", "Home", "Outdoors", "Electronics", "Beauty", "Kitchen"}
var productPrices = [...]int{499, 999, 1299, 1499, 1999, 2499, 2999, 3499, 3999, 4999, 5999, 7999, 9999, 12999, 14999, 19999}

type campaign struct{ id, name, subject, path string }

var campaigns = [...]campaign{
	{"cmp_welcome", "Welcome Series", "Welcome to Rekindle Shop: 10% off your first order", "/collections/new"},
	{"cmp_cart_abandon", "Cart Abandonment", "You left something in your cart", "/cart"},
	{"cmp_winback_30d", "Win-back 30 days", "We miss you: free shipping this week", "/collections/sale"},
	{"cmp_spring_sale", "Spring Sale", "Spring Sale: up to 40% off", "/collections/sale"},
	{"cmp_weekly_digest", "Weekly Digest", "New arrivals picked for you", "/collections/new"},
	{"cmp_price_drop", "Price Drop", "A product you viewed just dropped in price", "/collections/sale"},
	{"cmp_order_followup", "Order Follow-up", "How was your order?", "/account/orders"},
	{"cmp_repermission", "Re-permission", "Stay in the loop (and get 15% off)", "/account"},
}

var emailBounces = [...]struct{ kind, reason string }{
	{"hard", "mailbox does not exist"},
	{"soft", "mailbox full"},
	{"soft", "message deferred"},
	{"hard", "domain not found"},
}

var pushBounceReasons = [...]string{"device token unregistered", "invalid device token", "app uninstalled"}

// smsBodies are inbound SMS texts: opt-out and opt-in keywords in the casing
// people actually type, help requests and free text.
var smsBodies = [...]string{
	"STOP", "STOP", "Stop", "stop", "stop please", "STOPALL", "UNSUBSCRIBE", "Cancel", "END", "QUIT",
	"START", "YES", "UNSTOP",
	"HELP", "INFO",
	"Thanks!", "When does the sale end?", "wrong number", "Is my order shipped?",
	"¿Tienen envío gratis?", "can you stop texting me", "👍",
}

const smsShortCode = "+18885550123"

var unsubscribeReasons = [...]string{"too_frequent", "not_relevant", "never_signed_up", "other", ""}

var cancelReasons = [...]string{"too_expensive", "not_using", "switching_service", "other"}

type plan struct {
	name  string
	cents int
}

var plans = [...]plan{{"premium_monthly", 999}, {"premium_yearly", 8999}}

type store struct {
	id, name            string
	latitude, longitude string
	radiusMeters        string
	countryCode         string
}

var stores = [...]store{
	{"store_nyc_soho", "SoHo Store", "40.7233", "-74.0030", "150", "US"},
	{"store_sf_union", "Union Square Store", "37.7880", "-122.4075", "120", "US"},
	{"store_lon_covent", "Covent Garden Store", "51.5117", "-0.1240", "100", "GB"},
	{"store_ber_mitte", "Berlin Mitte Store", "52.5251", "13.4020", "120", "DE"},
	{"store_par_marais", "Le Marais Store", "48.8590", "2.3620", "100", "FR"},
	{"store_sao_paulista", "Paulista Store", "-23.5614", "-46.6559", "200", "BR"},
	{"store_tyo_shibuya", "Shibuya Store", "35.6595", "139.7005", "150", "JP"},
	{"store_syd_pitt", "Pitt Street Store", "-33.8700", "151.2080", "150", "AU"},
}

var permissions = [...]string{"push", "email", "sms", "location"}
